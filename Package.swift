// swift-tools-version:6.2
import PackageDescription

let package = Package(
    name: "swift-pogreb",
    platforms: [.macOS(.v15)],  // Synchronization.Mutex/Atomic; no minimum on Linux
    products: [
        .library(name: "Pogreb", targets: ["Pogreb"]),
        .executable(name: "pogreb", targets: ["PogrebTool"]),
        .library(name: "PogrebFoundation", targets: ["PogrebFoundation"]),
        // The benchmark data of docs/WORKLOADS.md, for the tool, the tests and the Benchmarks package.
        .library(name: "PogrebWorkload", targets: ["PogrebWorkload"]),
        // The limit table, the yardstick `pogreb bench` and `compare` measure lookups against.
        .library(name: "PogrebLimitTable", targets: ["CPogrebLimitTable"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.4.0"),
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.4.0"),
        // Only for PogrebServer (`pogreb serve`): the event loops and sockets of the RESP server.
        .package(url: "https://github.com/apple/swift-nio", from: "2.81.0"),
    ],
    targets: [
        // Hardware CRC32C (SSE4.2 / ARMv8 CRC) with runtime dispatch. Nothing else goes here.
        .target(name: "CPogrebCRC32C"),
        // System calls that the Glibc module does not expose (renameat2). Nothing else goes here.
        .target(name: "CPogrebSystem"),

        // The engine. The only public module.
        .target(
            name: "Pogreb",
            dependencies: [
                "CPogrebCRC32C",
                "CPogrebSystem",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: [.strictMemorySafety()]
        ),

        // `Data` keys and values and a typed `Codable` layer: the only module that imports
        // Foundation, so that users of `Pogreb` alone never link it.
        .target(name: "PogrebFoundation", dependencies: ["Pogreb"]),

        // The data generator of the benchmark workloads (docs/WORKLOADS.md): splitmix64, the random
        // stream, keys, values and load order. Defined once, for the tool, the tests and Benchmarks.
        .target(name: "PogrebWorkload"),

        // The store over the Redis protocol (RESP2) on SwiftNIO: the decoder, the commands and
        // the server behind `pogreb serve` (docs/SERVER.md).
        .target(
            name: "PogrebServer",
            dependencies: [
                "Pogreb",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: [.strictMemorySafety()]
        ),

        // The limit table: an in-memory open-addressing hash table in C that does only what a
        // point lookup must (one slot read, one record read), so that `pogreb bench` and `compare`
        // can say how close the engine comes to what the memory allows. Not used by the engine.
        .target(name: "CPogrebLimitTable"),

        // The command-line tool; the product and binary are named `pogreb`.
        .executableTarget(
            name: "PogrebTool",
            dependencies: [
                "Pogreb", "PogrebWorkload", "PogrebServer", "CPogrebLimitTable",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // Helpers shared by every test target: file systems that fail or crash on demand,
        // temporary directories, seeded generators, the reference model.
        .target(
            name: "PogrebTestSupport", dependencies: ["Pogreb", "PogrebWorkload"], path: "Tests/PogrebTestSupport"),

        .testTarget(name: "PogrebTests", dependencies: ["Pogreb", "PogrebTestSupport", "PogrebWorkload"]),
        .testTarget(
            name: "PogrebAPITests",
            dependencies: [
                "Pogreb", "PogrebTestSupport", "PogrebWorkload",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ]
        ),
        .testTarget(
            name: "PogrebServerTests",
            dependencies: [
                "PogrebServer", "Pogreb", "PogrebTestSupport", "PogrebWorkload",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "PogrebFoundationTests", dependencies: ["PogrebFoundation", "Pogreb", "PogrebTestSupport"]),
        .testTarget(
            name: "PogrebToolTests",
            dependencies: [
                "PogrebTool", "PogrebTestSupport", "Pogreb", "PogrebWorkload",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)

// The libFuzzer targets (Fuzz/, scripts/fuzz.sh), declared only when POGREB_FUZZ=1: the script
// sets it and builds them with `-sanitize=fuzzer` into .build-fuzz, so the normal build never
// compiles them. They are in this package, not in a nested one like Benchmarks/, because they
// call the decoders (`package` access, which reaches no other package) and the test support's
// memory file system.
if Context.environment["POGREB_FUZZ"] == "1" {
    package.targets += [
        .target(name: "CPogrebFuzzDriver", path: "Fuzz/Sources/CPogrebFuzzDriver"),
        .executableTarget(
            name: "PogrebFuzz", dependencies: ["Pogreb", "PogrebTestSupport", "CPogrebFuzzDriver"],
            path: "Fuzz/Sources/PogrebFuzz"),
    ]
}

for target in package.targets where [.executable, .test, .regular].contains(target.type) {
    var settings = target.swiftSettings ?? []
    settings.append(.enableUpcomingFeature("ExistentialAny"))
    settings.append(.enableUpcomingFeature("MemberImportVisibility"))
    target.swiftSettings = settings
}
