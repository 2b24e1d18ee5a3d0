#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Errors of the test helpers themselves (not of the engine).
package struct TestSupportError: Error, CustomStringConvertible, Sendable {
    package var description: String
    package init(_ description: String) { self.description = description }
}

/// Makes a fresh directory under `$TMPDIR` (or `/tmp`) with `mkdtemp`, passes its path to `body`,
/// and removes it with everything in it afterwards, whether `body` returns or throws.
package func withTemporaryDirectory<R>(_ body: (String) throws -> R) throws -> R {
    let path = try makeTemporaryDirectory()
    defer { removeDirectory(path) }
    return try body(path)
}

/// The async variant of ``withTemporaryDirectory(_:)``.
package func withTemporaryDirectory<R>(_ body: (String) async throws -> R) async throws -> R {
    let path = try makeTemporaryDirectory()
    defer { removeDirectory(path) }
    return try await body(path)
}

/// Creates a fresh, empty directory with `mkdtemp` and returns its path.
///
/// The parent is `POGREB_TEST_TMPDIR` when set; otherwise `/dev/shm` when it is a tmpfs with at
/// least 1 GiB free (the POSIX code paths are the same, but an `fsync` costs nothing there, which
/// keeps the recovery tables fast); otherwise `TMPDIR`, or `/tmp`.
package func makeTemporaryDirectory() throws -> String {
    let environment = ProcessInfo.processInfo.environment
    var base = environment["POGREB_TEST_TMPDIR"] ?? ""
    if base.isEmpty, hasRoom("/dev/shm", bytes: 1 << 30) { base = "/dev/shm" }
    if base.isEmpty { base = environment["TMPDIR"] ?? "" }
    if base.isEmpty { base = "/tmp" }
    while base.count > 1 && base.hasSuffix("/") { base.removeLast() }
    var template = Array((base + "/pogreb-test-XXXXXX").utf8CString)
    let made = template.withUnsafeMutableBufferPointer { buffer -> Bool in
        guard let start = buffer.baseAddress else { return false }
        return mkdtemp(start) != nil
    }
    guard made else { throw TestSupportError("mkdtemp failed in \(base): errno \(errno)") }
    return template.withUnsafeBufferPointer { buffer in
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Whether `path` is a writable directory with at least `bytes` free.
private func hasRoom(_ path: String, bytes: UInt64) -> Bool {
    guard access(path, W_OK | X_OK) == 0 else { return false }
    var info = statvfs()
    guard statvfs(path, &info) == 0 else { return false }
    return UInt64(info.f_bavail) * UInt64(info.f_frsize) >= bytes
}

/// Removes a directory and its contents; failures are ignored (it is a temporary directory).
package func removeDirectory(_ path: String) {
    try? FileManager.default.removeItem(atPath: path)
}
