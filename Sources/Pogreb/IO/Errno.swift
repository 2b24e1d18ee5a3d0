#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A POSIX error number, as set by a failed system call.
public struct Errno: Error, Sendable, Hashable, CustomStringConvertible {
    /// The raw `errno` value.
    public var rawValue: Int32
    /// The error number `rawValue` (an `errno` value).
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// The current thread's `errno`.
    static var current: Errno { Errno(rawValue: errno) }

    /// The system's message for the error number (`strerror`), and the number.
    public var description: String {
        guard let text = unsafe strerror(rawValue) else { return "errno \(rawValue)" }
        return unsafe "\(String(cString: text)) (errno \(rawValue))"
    }

    package static let noEntry = Errno(rawValue: ENOENT)
    package static let exists = Errno(rawValue: EEXIST)
    static let wouldBlock = Errno(rawValue: EWOULDBLOCK)
    static let interrupted = Errno(rawValue: EINTR)
    static let readOnlyFileSystem = Errno(rawValue: EROFS)
    static let accessDenied = Errno(rawValue: EACCES)
    static let permissionDenied = Errno(rawValue: EPERM)
}
