import Glibc
import Synchronization

/// Ctrl-C handling for commands that hold a database open.
///
/// The first SIGINT only sets a flag: long-running loops (import, export, scan, check, bench)
/// check it between batches, abandon the batch in hand (a batch is applied atomically or not at
/// all), close the database cleanly and exit with status 130. A second SIGINT exits at once
/// (`_exit(130)`); the engine recovers from that like from any crash.
enum Interrupt {
    private static let flag = Atomic<Bool>(false)
    private static let installed = Atomic<Bool>(false)

    /// Installs the handler once and unblocks SIGINT for the calling thread; the handler does not
    /// restart system calls (reads of standard input return EINTR, so a blocked import notices).
    static func install() {
        guard !installed.exchange(true, ordering: .relaxed) else { return }
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in
            if Interrupt.flag.exchange(true, ordering: .relaxed) {
                _exit(130)
            }
            let message = "\npogreb: interrupted; finishing the current step (Ctrl-C again to quit at once)\n"
            message.utf8CString.withUnsafeBufferPointer { _ = write(2, $0.baseAddress, $0.count - 1) }
        }
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0
        sigaction(SIGINT, &action, nil)
        // A blocked SIGINT is inherited across exec (a test runner's threads block it): unblock it
        // here, or Ctrl-C would stay pending and the handler never run.
        var blocked = sigset_t()
        sigemptyset(&blocked)
        sigaddset(&blocked, SIGINT)
        pthread_sigmask(SIG_UNBLOCK, &blocked, nil)
    }

    /// Whether Ctrl-C was pressed.
    static var requested: Bool { flag.load(ordering: .relaxed) }

    /// Throws ``error`` when Ctrl-C was pressed.
    static func check() throws(ToolError) {
        if requested { throw error }
    }

    /// The error that ends an interrupted command (status 130 is the shell's convention).
    static var error: ToolError { ToolError(.interrupted, "interrupted") }

    /// For tests: forget an earlier interrupt.
    static func reset() { flag.store(false, ordering: .relaxed) }

    /// For tests: act as if Ctrl-C had been pressed.
    static func simulate() { flag.store(true, ordering: .relaxed) }
}
