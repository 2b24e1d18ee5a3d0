// swift-tools-version:6.1
import PackageDescription

// The benchmarks, kept out of the main package (as swift-nio, swift-collections and swift-log
// do) so that users of swift-pogreb never resolve the benchmark plugin or its malloc interposer.
// Run: `cd Benchmarks && swift package benchmark` (the first build takes a few minutes).
let package = Package(
    name: "swift-pogreb-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        // `name:` because a path dependency is otherwise named after its folder, which is not
        // `swift-pogreb` in every clone (CI clones into a folder of its own).
        .package(name: "swift-pogreb", path: "../"),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.0", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "PogrebBenchmarks",
            dependencies: [
                .product(name: "Pogreb", package: "swift-pogreb"),
                .product(name: "PogrebWorkload", package: "swift-pogreb"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/PogrebBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    ]
)
