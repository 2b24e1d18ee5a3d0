import Foundation
import PogrebTestSupport
import Synchronization
import Testing

@testable import Pogreb

/// The bytes of a string.
func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

// MARK: W1 data (../shared/WORKLOAD.md)

/// `splitmix64(x)`, 64-bit wrapping arithmetic, as WORKLOAD.md defines it.
func splitmix64(_ x: UInt64) -> UInt64 {
    var z = x &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

/// Key `i` of the workloads: `i` big-endian, then `splitmix64(i)` big-endian (16 bytes).
func workloadKey(_ i: Int) -> [UInt8] {
    var key = [UInt8](repeating: 0, count: 16)
    key.withUnsafeMutableBytes { raw in
        raw.storeBytes(of: UInt64(i).bigEndian, toByteOffset: 0, as: UInt64.self)
        raw.storeBytes(of: splitmix64(UInt64(i)).bigEndian, toByteOffset: 8, as: UInt64.self)
    }
    return key
}

/// The value of key `i` at version `v` (128 bytes): for j in 0..<16, `splitmix64((v << 40) ^ (i << 4) ^ j)`
/// little-endian.
func workloadValue(_ i: Int, version v: Int = 0) -> [UInt8] {
    var value = [UInt8](repeating: 0, count: 128)
    value.withUnsafeMutableBytes { raw in
        for j in 0..<16 {
            let word = splitmix64((UInt64(v) << 40) ^ (UInt64(i) << 4) ^ UInt64(j))
            raw.storeBytes(of: word.littleEndian, toByteOffset: j * 8, as: UInt64.self)
        }
    }
    return value
}

/// The ids of the workload key `bytes`, read back from its first 8 bytes.
func workloadID(ofKey bytes: [UInt8]) -> Int? {
    guard bytes.count == 16 else { return nil }
    let id = bytes.withUnsafeBytes { UInt64(bigEndian: $0.loadUnaligned(as: UInt64.self)) }
    return workloadKey(Int(id)) == bytes ? Int(id) : nil
}

// MARK: Threads

/// Runs `body(0) … body(count - 1)` on `count` new threads at once and waits for all of them;
/// rethrows the first error any of them threw.
///
/// Plain threads, not tasks: the bodies block on the database's locks and on I/O, which must
/// not happen on the cooperative pool.
func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) throws -> Void) throws {
    let errors = Mutex<[any Error]>([])
    let done = DispatchGroup()
    for index in 0..<count {
        done.enter()
        let thread = Thread {
            defer { done.leave() }
            do { try body(index) } catch { errors.withLock { $0.append(error) } }
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
    done.wait()
    if let first = errors.withLock({ $0.first }) { throw first }
}

/// A flag that one thread sets and others poll.
final class StopFlag: Sendable {
    private let value = Atomic<Bool>(false)
    func stop() { value.store(true, ordering: .releasing) }
    var isStopped: Bool { value.load(ordering: .acquiring) }
}

// MARK: A file system that counts syncs

/// Counts of `fdatasync` and directory `fsync` calls, read from the test-support wrapper that
/// already counts every changing operation.
extension FaultInjectingFileSystem {
    var fileSyncs: Int { count(of: .sync) }
    var directorySyncs: Int { count(of: .syncDirectory) }
}

/// Runs `body`, expecting a `PogrebError` with `code`; records an issue otherwise.
func expectPogrebError(
    _ code: PogrebError.Code, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
) {
    do {
        try body()
        Issue.record("expected a PogrebError \(code), nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as PogrebError {
        #expect(error.code == code, "expected \(code), got \(error)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected a PogrebError \(code), got \(error)", sourceLocation: sourceLocation)
    }
}

/// Opens a fresh database of `kind` with `configure`d options, passes it to `body`, and closes it.
func withDatabase<R>(
    _ kind: FileSystemKind, configure: (inout Options) -> Void = { _ in }, _ body: (Database, TestDatabase) throws -> R
) throws -> R {
    try withTestDatabase(kind, configure: configure) { t in
        let db = try t.open()
        defer { try? db.close() }
        return try body(db, t)
    }
}
