import Glibc

/// A child process started with `posix_spawn`, its standard output connected to a pipe.
final class ChildProcess {
    let pid: pid_t
    private let output: Int32
    private var buffered: [UInt8] = []
    private var reaped = false

    /// Starts `executable` with `arguments` (not including argv[0]).
    init(executable: String, arguments: [String]) throws(ToolError) {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw ToolError(.io, "pipe failed: \(describeErrno(errno))") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addclose(&actions, fds[0])
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        posix_spawn_file_actions_addclose(&actions, fds[1])
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid = pid_t()
        let result = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        close(fds[1])
        guard result == 0 else {
            close(fds[0])
            throw ToolError(.io, "cannot start \(executable): \(describeErrno(result))")
        }
        self.pid = pid
        self.output = fds[0]
    }

    /// The next line the child writes to its standard output, or `nil` when it closes it
    /// (it exited) or `timeout` seconds pass.
    func readLine(timeout: Double) -> String? {
        let deadline = now() + timeout
        while true {
            if let newline = buffered.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffered[..<newline], as: UTF8.self)
                buffered.removeSubrange(...newline)
                return line
            }
            let left = deadline - now()
            guard left > 0 else { return nil }
            var poller = pollfd(fd: output, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, Int32(min(left * 1000, 1000)))
            if ready < 0 && errno != EINTR { return nil }
            if ready <= 0 {
                if Interrupt.requested { return nil }
                continue
            }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = chunk.withUnsafeMutableBytes { read(output, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return nil }
            buffered += chunk[0..<n]
        }
    }

    /// Sends `signal` to the child.
    func kill(_ signal: Int32 = SIGKILL) {
        guard !reaped else { return }
        _ = Glibc.kill(pid, signal)
    }

    /// Waits for the child; returns its `waitpid` status.
    @discardableResult
    func wait() -> Int32 {
        guard !reaped else { return 0 }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        reaped = true
        return status
    }

    /// Whether a `waitpid` status says the process was killed by `signal`.
    static func wasKilled(_ status: Int32, by signal: Int32) -> Bool {
        (status & 0x7F) == signal
    }

    /// The exit code in a `waitpid` status, or nil when a signal ended the process.
    static func exitCode(_ status: Int32) -> Int32? {
        (status & 0x7F) == 0 ? (status >> 8) & 0xFF : nil
    }

    deinit {
        if !reaped {
            kill()
            wait()
        }
        close(output)
    }
}

/// The path of the `pogreb` binary, for workloads that run it as a child process: this
/// process's own executable when it is `pogreb`, else a `pogreb` beside it (the test runner
/// sits next to it in the build directory), else `$POGREB_BINARY`.
func pogrebExecutable() throws(ToolError) -> String {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    if n > 0 {
        let path = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if baseName(path) == "pogreb" { return path }
        let sibling = String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)]) + "/pogreb"
        if access(sibling, X_OK) == 0 { return sibling }
    }
    if let value = getenv("POGREB_BINARY"), access(value, X_OK) == 0 { return String(cString: value) }
    throw ToolError(.usage, "cannot find the pogreb binary to run as a child process (set POGREB_BINARY)")
}
