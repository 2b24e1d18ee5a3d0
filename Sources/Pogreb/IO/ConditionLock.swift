#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A lock around a value with a condition variable: a caller can wait, the lock released, until
/// another changes the value and wakes every waiter. A `pthread_mutex_t` and a `pthread_cond_t`
/// on every platform (both live in one heap allocation each that never moves).
///
/// The engine's group commit waits on it: followers of a running `fdatasync` sleep until it ends
/// and then all wake at once (`pthread_cond_broadcast`), instead of being handed a mutex one after
/// another, a context switch each.
@safe package final class ConditionLock<Value>: @unchecked Sendable {
    // @unchecked Sendable: `value` is only touched between pthread_mutex_lock and unlock (a
    // `pthread_cond_wait` gives the mutex back while it sleeps and takes it again before it
    // returns).
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>
    private var value: Value

    package init(_ value: Value) {
        self.value = value
        unsafe mutex = .allocate(capacity: 1)
        unsafe condition = .allocate(capacity: 1)
        let locked = unsafe pthread_mutex_init(mutex, nil)
        let conditioned = unsafe pthread_cond_init(condition, nil)
        precondition(locked == 0 && conditioned == 0, "pthread_mutex_init/pthread_cond_init failed")
    }

    deinit {
        unsafe pthread_cond_destroy(condition)
        unsafe pthread_mutex_destroy(mutex)
        unsafe condition.deallocate()
        unsafe mutex.deallocate()
    }

    /// Runs `body` with the lock held, after waiting (`pthread_cond_wait`, the lock released
    /// meanwhile) for as long as `waitWhile` holds for the value.
    package func withLock<R, E: Error>(
        waitingWhile waitWhile: (Value) -> Bool = { _ in false }, _ body: (inout Value) throws(E) -> R
    ) throws(E) -> R {
        unsafe pthread_mutex_lock(mutex)
        defer { unsafe pthread_mutex_unlock(mutex) }
        while waitWhile(value) { unsafe pthread_cond_wait(condition, mutex) }
        return try body(&value)
    }

    /// Runs `body` with the lock held, then wakes every waiter (`pthread_cond_broadcast`), which
    /// checks its condition again.
    package func withLockWakingAll<R>(_ body: (inout Value) -> R) -> R {
        unsafe pthread_mutex_lock(mutex)
        defer {
            unsafe pthread_cond_broadcast(condition)
            unsafe pthread_mutex_unlock(mutex)
        }
        return body(&value)
    }
}
