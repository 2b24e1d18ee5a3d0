import Glibc
import Synchronization

/// Runs `body(t)` on `count` new threads at once (t = 0 ..< count) and waits for all of them.
/// The threads start together: each waits at a barrier until all exist.
func runOnThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
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

private final class ThreadBody {
    let body: () -> Void
    init(_ body: @escaping () -> Void) { self.body = body }
}

/// Starts a thread running `body`; join it with ``joinThread(_:)``.
func startThread(_ body: @escaping @Sendable () -> Void) -> pthread_t {
    let box = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
    var thread = pthread_t()
    let result = pthread_create(
        &thread, nil,
        { raw in
            let box = Unmanaged<ThreadBody>.fromOpaque(raw!).takeRetainedValue()
            box.body()
            return nil
        }, box)
    precondition(result == 0, "pthread_create failed: \(describeErrno(result))")
    return thread
}

func joinThread(_ thread: pthread_t) {
    pthread_join(thread, nil)
}

/// Runs `body` while a line on standard error shows `label` and the time spent, when standard
/// error is a terminal (for work that reports no progress of its own, like compaction).
func withTicker<R>(_ label: String, _ body: () throws(ToolError) -> R) throws(ToolError) -> R {
    guard Console.current.stderrIsTerminal else { return try body() }
    let stop = Atomic<Bool>(false)
    let console = Console.current
    let started = now()
    let thread = startThread {
        while !stop.load(ordering: .relaxed) {
            usleep(200_000)
            if stop.load(ordering: .relaxed) { break }
            console.err.write("\r\u{1B}[2K" + Format.pad(label, 8) + " " + Format.clock(now() - started))
            console.err.flushQuietly()
        }
        console.err.write("\r\u{1B}[2K")
        console.err.flushQuietly()
    }
    defer {
        stop.store(true, ordering: .relaxed)
        joinThread(thread)
    }
    return try body()
}
