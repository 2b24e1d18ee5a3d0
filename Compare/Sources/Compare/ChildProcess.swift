import Glibc

/// Runs this executable again with `arguments` and returns its standard output (standard error
/// passes through) and its exit status.
func runSelf(_ arguments: [String]) throws(CompareError) -> (output: String, status: Int32) {
    let (pid, fd) = try startSelf(arguments)
    var output: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { break }
        output += chunk[0..<n]
    }
    close(fd)
    return (String(decoding: output, as: UTF8.self), waitFor(pid))
}

/// Runs this executable again with `arguments` until it prints its first line (W6's children then
/// wait to be killed), kills it with SIGKILL and reaps it. Returns the line (empty when the child
/// ended without one) and whether SIGKILL ended the child (false: it exited by itself first).
func runSelfUntilLineThenKill(_ arguments: [String]) throws(CompareError) -> (line: String, killed: Bool) {
    let (pid, fd) = try startSelf(arguments)
    var output: [UInt8] = []
    var byte: UInt8 = 0
    while true {
        let n = read(fd, &byte, 1)
        if n < 0 && errno == EINTR { continue }
        if n <= 0 || byte == UInt8(ascii: "\n") { break }
        output.append(byte)
    }
    kill(pid, SIGKILL)
    close(fd)
    let status = waitFor(pid)
    // WIFSIGNALED and WTERMSIG, which Glibc does not import as functions.
    let killed = (status & 0x7F) == SIGKILL
    return (String(decoding: output, as: UTF8.self), killed)
}

/// Starts this executable with `arguments`, its standard output a pipe; returns its pid and the
/// pipe's read end.
private func startSelf(_ arguments: [String]) throws(CompareError) -> (pid: pid_t, fd: Int32) {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    guard length > 0 else { throw CompareError("cannot read /proc/self/exe") }
    let executable = String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    var fds: [Int32] = [0, 0]
    guard pipe(&fds) == 0 else { throw CompareError("pipe failed: errno \(errno)") }
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
        throw CompareError("cannot start \(executable): errno \(result)")
    }
    return (pid, fds[0])
}

/// Waits for child `pid` and returns its wait status.
private func waitFor(_ pid: pid_t) -> Int32 {
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    return status
}
