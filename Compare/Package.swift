// swift-tools-version:6.1
import PackageDescription

// `compare`: swift-pogreb side by side with LMDB, LevelDB, SQLite and an in-memory "limit table",
// on the workloads of docs/WORKLOADS.md. Kept out of the main package so that its users never need
// the peers' C libraries. Needs (as root) `apt-get install -y liblmdb-dev libleveldb-dev libsqlite3-dev`.
// Run: `cd Compare && swift run -c release compare --n 1000000` (see docs/BENCHMARKS.md).
let package = Package(
    name: "swift-pogreb-compare",
    platforms: [.macOS(.v15)],
    products: [.executable(name: "compare", targets: ["Compare"])],
    dependencies: [
        // `name:` because a path dependency is otherwise named after its folder (see Benchmarks/).
        .package(name: "swift-pogreb", path: "../")
    ],
    targets: [
        .systemLibrary(name: "CLMDB", path: "Sources/CLMDB", pkgConfig: "lmdb", providers: [.apt(["liblmdb-dev"])]),
        .systemLibrary(name: "CLevelDB", path: "Sources/CLevelDB", providers: [.apt(["libleveldb-dev"])]),
        .systemLibrary(
            name: "CSQLite", path: "Sources/CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .executableTarget(
            name: "Compare",
            dependencies: [
                "CLMDB", "CLevelDB", "CSQLite",
                .product(name: "Pogreb", package: "swift-pogreb"),
                // The limit table lives in the main package, which `pogreb bench` also measures against.
                .product(name: "PogrebLimitTable", package: "swift-pogreb"),
                .product(name: "PogrebWorkload", package: "swift-pogreb"),
            ],
            path: "Sources/Compare"
        ),
    ],
    swiftLanguageModes: [.v6]
)
