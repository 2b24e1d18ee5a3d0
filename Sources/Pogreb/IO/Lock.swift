#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

#if POGREB_TSAN
/// The engine's mutual-exclusion lock, in builds for ThreadSanitizer (`-Xswiftc -DPOGREB_TSAN`,
/// see `scripts/tsan.sh`): a `pthread_mutex_t`, whose lock and unlock TSan intercepts. Swift's
/// `Mutex` waits on a futex directly on Linux, so TSan does not see the order it creates and
/// reports every access it protects as a race.
///
/// The same interface as the `Mutex` calls the engine makes (`withLock`, `withLockIfAvailable`).
@safe package final class Lock<Value>: @unchecked Sendable {
    // @unchecked Sendable: `value` is only touched between pthread_mutex_lock and unlock.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    package init(_ value: Value) {
        self.value = value
        unsafe mutex = .allocate(capacity: 1)
        let result = unsafe pthread_mutex_init(mutex, nil)
        precondition(result == 0, "pthread_mutex_init failed: \(result)")
    }

    deinit {
        unsafe pthread_mutex_destroy(mutex)
        unsafe mutex.deallocate()
    }

    /// Runs `body` with the lock held (`pthread_mutex_lock`).
    package func withLock<R, E: Error>(_ body: (inout Value) throws(E) -> R) throws(E) -> R {
        unsafe pthread_mutex_lock(mutex)
        defer { unsafe pthread_mutex_unlock(mutex) }
        return try body(&value)
    }

    /// Runs `body` with the lock held if it is free now (`pthread_mutex_trylock`), else returns nil.
    package func withLockIfAvailable<R, E: Error>(_ body: (inout Value) throws(E) -> R) throws(E) -> R? {
        guard unsafe pthread_mutex_trylock(mutex) == 0 else { return nil }
        defer { unsafe pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
#else
/// The engine's mutual-exclusion lock: Swift's `Mutex` (a futex on Linux, `os_unfair_lock` on
/// Darwin). Builds for ThreadSanitizer define `POGREB_TSAN` and get a `pthread_mutex_t` instead,
/// which TSan sees (see `scripts/tsan.sh`).
package typealias Lock<Value> = Mutex<Value>
#endif
