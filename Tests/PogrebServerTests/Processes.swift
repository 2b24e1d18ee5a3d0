import Glibc
import PogrebTestSupport

/// The built `pogreb` binary: `$POGREB_BINARY`, else beside this test bundle (`swift build
/// --build-tests` builds both into the same folder).
func pogrebBinary() throws -> String {
    if let value = getenv("POGREB_BINARY") { return String(cString: value) }
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    if n > 0 {
        let path = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let sibling = String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)]) + "/pogreb"
        if access(sibling, X_OK) == 0 { return sibling }
    }
    throw TestSupportError("no pogreb binary beside the test bundle: run `swift build --build-tests` first")
}

/// A child process with its standard output on a pipe (standard error goes to ours).
final class ChildProcess {
    let pid: pid_t
    private let stdoutFD: Int32
    private var pending: [UInt8] = []
    private var exited = false

    init(_ executable: String, _ arguments: [String], quiet: Bool = false) throws {
        var pipeFDs: [Int32] = [0, 0]
        guard pipe(&pipeFDs) == 0 else { throw TestSupportError("pipe failed") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 1)
        if quiet { posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0) }
        posix_spawn_file_actions_addclose(&actions, pipeFDs[0])
        posix_spawn_file_actions_addclose(&actions, pipeFDs[1])
        // The test runner may block signals in its threads; the child must get SIGTERM.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var child = pid_t()
        let result = posix_spawn(&child, executable, &actions, &attributes, argv, environ)
        close(pipeFDs[1])
        guard result == 0 else {
            close(pipeFDs[0])
            throw TestSupportError("cannot start \(executable): error \(result)")
        }
        pid = child
        stdoutFD = pipeFDs[0]
    }

    deinit {
        if !exited {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        close(stdoutFD)
    }

    /// The next line of standard output (without its newline), or `nil` at end of file.
    func readLine() -> String? {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            if let newline = pending.firstIndex(of: 10) {
                let line = String(decoding: pending[..<newline], as: UTF8.self)
                pending.removeSubrange(...newline)
                return line
            }
            let n = chunk.withUnsafeMutableBytes { read(stdoutFD, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return nil }
            pending += chunk[0..<n]
        }
    }

    /// Sends `signal` and waits for the exit.
    /// - Returns: the exit status (128 + the signal when killed by one).
    func stop(_ signal: Int32 = SIGTERM) -> Int32 {
        kill(pid, signal)
        return wait()
    }

    /// Waits for the exit. - Returns: the exit status (128 + the signal when killed by one).
    func wait() -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        exited = true
        return (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    }

    /// All remaining standard output.
    func readRest() -> String {
        var lines: [String] = []
        while let line = readLine() { lines.append(line) }
        return lines.joined(separator: "\n")
    }
}

/// Runs `executable` to its end with `input` on standard input.
/// - Returns: the exit status and standard output.
func run(_ executable: String, _ arguments: [String], input: [UInt8] = []) throws -> (Int32, [UInt8]) {
    var inPipe: [Int32] = [0, 0]
    var outPipe: [Int32] = [0, 0]
    guard pipe(&inPipe) == 0, pipe(&outPipe) == 0 else { throw TestSupportError("pipe failed") }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
    posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
    for fd in inPipe + outPipe { posix_spawn_file_actions_addclose(&actions, fd) }
    let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    var child = pid_t()
    let result = posix_spawn(&child, executable, &actions, nil, argv, environ)
    close(inPipe[0])
    close(outPipe[1])
    guard result == 0 else {
        close(inPipe[1])
        close(outPipe[0])
        throw TestSupportError("cannot start \(executable): error \(result)")
    }
    // Inputs here are small (under the pipe's 64 KiB): written whole before reading.
    var written = 0
    while written < input.count {
        let n = input.withUnsafeBytes { write(inPipe[1], $0.baseAddress! + written, input.count - written) }
        if n <= 0 { break }
        written += n
    }
    close(inPipe[1])
    var output: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(outPipe[0], $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { break }
        output += chunk[0..<n]
    }
    close(outPipe[0])
    var status: Int32 = 0
    while waitpid(child, &status, 0) < 0 && errno == EINTR {}
    return ((status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F), output)
}

/// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released).
func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
            bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
        }
    }
    guard bound else { throw TestSupportError("cannot bind a free port: errno \(errno)") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Connects to `port` until it accepts (up to 10 s).
func waitForPort(_ port: Int) throws {
    for _ in 0..<200 {
        if (try? TestClient(port: port)) != nil { return }
        usleep(50_000)
    }
    throw TestSupportError("nothing listens on 127.0.0.1:\(port) after 10 s")
}

/// A `pogreb serve` child on a free loopback port.
final class ServeProcess {
    let process: ChildProcess
    let port: Int

    init(_ path: String, _ extra: [String] = []) throws {
        process = try ChildProcess(try pogrebBinary(), ["serve", path, "--port", "0"] + extra)
        guard let line = process.readLine(), line.hasPrefix("pogreb serve: listening on "),
            let port = line.split(separator: ",")[0].split(separator: ":").last.flatMap({ Int($0) })
        else { throw TestSupportError("pogreb serve did not start") }
        self.port = port
    }
}

/// redis-cli (or another Redis tool) when installed. When missing: an error, unless
/// `POGREB_SKIP_REDIS_TOOLS=1` says to skip (then `nil`, and the reason is printed).
func redisTool(_ name: String, package: String) throws -> String? {
    if let path = findProgram(name) { return path }
    if let skip = getenv("POGREB_SKIP_REDIS_TOOLS"), String(cString: skip) == "1" {
        print("skipped: \(name) is not installed (apt-get install \(package)) and POGREB_SKIP_REDIS_TOOLS=1")
        return nil
    }
    throw TestSupportError(
        "\(name) is not installed: apt-get install \(package) (or set POGREB_SKIP_REDIS_TOOLS=1 to skip)")
}
