#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

#if POGREB_TSAN || canImport(Glibc)
/// The engine's mutual-exclusion lock on Linux, and in builds for ThreadSanitizer
/// (`-Xswiftc -DPOGREB_TSAN`, see `scripts/tsan.sh`): a `pthread_mutex_t` (adaptive on glibc),
/// taken with `trylock` retried a bounded number of times before it waits.
///
/// Not Swift's `Mutex` on Linux, for two reasons. It is a priority-inheritance futex, which hands
/// a contended lock to the waiter through the kernel: two threads that both write took turns
/// through a context switch on every put (YCSB-A, 2 threads: 70 k ops/s against 371 k on one
/// thread, `compare --workloads YA1,YA`, 2026-12-02). And TSan does not see its order (it waits
/// on the futex directly), so it reports every access it protects as a race.
///
/// The same interface as the `Mutex` calls the engine makes (`withLock`, `withLockIfAvailable`).
@safe package final class Lock<Value>: @unchecked Sendable {
    // @unchecked Sendable: `value` is only touched between pthread_mutex_lock and unlock.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    package init(_ value: Value) {
        self.value = value
        unsafe mutex = .allocate(capacity: 1)
        var attributes = pthread_mutexattr_t()
        unsafe pthread_mutexattr_init(&attributes)
        #if canImport(Glibc)
        unsafe pthread_mutexattr_settype(&attributes, Int32(PTHREAD_MUTEX_ADAPTIVE_NP))
        #endif
        let result = unsafe pthread_mutex_init(mutex, &attributes)
        unsafe pthread_mutexattr_destroy(&attributes)
        precondition(result == 0, "pthread_mutex_init failed: \(result)")
    }

    deinit {
        unsafe pthread_mutex_destroy(mutex)
        unsafe mutex.deallocate()
    }

    /// Runs `body` with the lock held (`pthread_mutex_lock`).
    package func withLock<R, E: Error>(_ body: (inout Value) throws(E) -> R) throws(E) -> R {
        if unsafe pthread_mutex_trylock(mutex) != 0 { unsafe Self.lockContended(mutex) }
        defer { unsafe pthread_mutex_unlock(mutex) }
        return try body(&value)
    }

    /// Takes `mutex` after a failed `trylock`: retries a bounded number of times (the engine's
    /// locks are held for microseconds), then waits in `pthread_mutex_lock`.
    @inline(never)
    private static func lockContended(_ mutex: UnsafeMutablePointer<pthread_mutex_t>) {
        for _ in 0..<2000 where unsafe pthread_mutex_trylock(mutex) == 0 { return }
        unsafe pthread_mutex_lock(mutex)
    }

    /// Runs `body` with the lock held if it is free now (`pthread_mutex_trylock`), else returns nil.
    package func withLockIfAvailable<R, E: Error>(_ body: (inout Value) throws(E) -> R) throws(E) -> R? {
        guard unsafe pthread_mutex_trylock(mutex) == 0 else { return nil }
        defer { unsafe pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
#else
/// The engine's mutual-exclusion lock on Darwin: Swift's `Mutex` (`os_unfair_lock`). Linux and
/// builds for ThreadSanitizer get the `pthread_mutex_t` above.
package typealias Lock<Value> = Mutex<Value>
#endif
