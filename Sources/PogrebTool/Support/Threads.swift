import Glibc
import PogrebWorkload
import Synchronization

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
