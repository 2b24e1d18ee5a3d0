#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

// Threads for the workloads: the benchmarks (`pogreb bench`, `compare`) and the tests that drive
// blocking calls from many threads at once need real threads, not a cooperative task pool.

/// A thread started by ``startThread(_:)``.
public struct WorkloadThread: @unchecked Sendable {
    // @unchecked Sendable: a pthread handle is an integer (Linux) or an opaque pointer (Darwin)
    // that only `pthread_join` uses, once.
    #if canImport(Darwin)
    fileprivate let handle: pthread_t?
    #else
    fileprivate let handle: pthread_t
    #endif
}

private final class ThreadBody {
    let body: () -> Void
    init(_ body: @escaping () -> Void) { self.body = body }
}

/// Starts a thread (`pthread_create`) running `body`; wait for it with ``joinThread(_:)``.
public func startThread(_ body: @escaping @Sendable () -> Void) -> WorkloadThread {
    let box = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
    #if canImport(Darwin)
    var thread: pthread_t?
    #else
    var thread = pthread_t()
    #endif
    let result = pthread_create(
        &thread, nil,
        { raw in
            #if canImport(Darwin)
            Unmanaged<ThreadBody>.fromOpaque(raw).takeRetainedValue().body()
            #else
            Unmanaged<ThreadBody>.fromOpaque(raw!).takeRetainedValue().body()
            #endif
            return nil
        }, box)
    precondition(result == 0, "pthread_create failed: \(String(cString: strerror(result)))")
    return WorkloadThread(handle: thread)
}

/// Waits for a thread of ``startThread(_:)`` to end (`pthread_join`).
public func joinThread(_ thread: WorkloadThread) {
    #if canImport(Darwin)
    if let handle = thread.handle { pthread_join(handle, nil) }
    #else
    pthread_join(thread.handle, nil)
    #endif
}

/// Runs `body(t)` on `count` new threads at once (t = 0 ..< count) and waits for all of them.
/// The threads start together: each waits at a barrier (spinning with `sched_yield`) until all
/// exist, so the first does not finish before the last has started.
public func runOnThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let ready = Atomic<Int>(0)
    let threads = (0..<count).map { t in
        startThread {
            ready.add(1, ordering: .acquiringAndReleasing)
            while ready.load(ordering: .acquiring) < count { sched_yield() }
            body(t)
        }
    }
    for thread in threads { joinThread(thread) }
}
