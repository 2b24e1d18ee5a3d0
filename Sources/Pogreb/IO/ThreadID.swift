#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The calling thread's identity, as a number (`pthread_self`).
enum ThreadID {
    @inline(__always)
    static var current: Int {
        #if canImport(Darwin)
        return unsafe Int(bitPattern: pthread_self())
        #else
        return Int(bitPattern: UInt(pthread_self()))
        #endif
    }
}
