#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Comparisons and copies of lent byte buffers (`memcmp`, `memcpy`).
enum RawBytes {
    /// Whether `a` and `b` hold the same bytes.
    @inline(__always)
    static func equal(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        guard a.count > 0, let pa = a.baseAddress, let pb = b.baseAddress else { return true }
        return unsafe memcmp(pa, pb, a.count) == 0
    }

    /// A new array holding a copy of `bytes`.
    @inline(__always)
    static func copy(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        unsafe [UInt8](bytes)
    }

    /// Random bytes from the system (`getrandom` on Linux, `arc4random_buf` on Darwin).
    static func random(count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var generator = SystemRandomNumberGenerator()
        for i in 0..<count { bytes[i] = UInt8.random(in: 0...255, using: &generator) }
        return bytes
    }
}

extension Array where Element == UInt8 {
    /// `withUnsafeBytes` that keeps the closure's typed error.
    @inline(__always)
    func withBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        let result: Result<R, E> = unsafe withUnsafeBytes { raw in
            do throws(E) { return .success(try unsafe body(raw)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// `withUnsafeMutableBytes` that keeps the closure's typed error.
    @inline(__always)
    mutating func withMutableBytes<R, E: Error>(_ body: (UnsafeMutableRawBufferPointer) throws(E) -> R) throws(E) -> R {
        let result: Result<R, E> = unsafe withUnsafeMutableBytes { raw in
            do throws(E) { return .success(try unsafe body(raw)) } catch { return .failure(error) }
        }
        return try result.get()
    }
}
