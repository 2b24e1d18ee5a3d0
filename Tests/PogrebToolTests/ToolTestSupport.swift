import Glibc
import Pogreb
import PogrebWorkload
import Testing

@testable import PogrebTool

/// What a command printed and how it exited.
struct CommandResult: CustomStringConvertible {
    var status: Int32
    var output: [UInt8]
    var error: String

    var text: String { String(decoding: output, as: UTF8.self) }
    var description: String { "status \(status)\nstdout: \(text)\nstderr: \(error)" }
}

/// Runs `pogreb <arguments>` in this process, with `input` as standard input.
func runInProcess(_ arguments: [String], input: [UInt8] = []) -> CommandResult {
    let console = Console.capturing(input: input)
    let status = Console.$current.withValue(console) {
        PogrebCommand.run(arguments: arguments)
    }
    return CommandResult(status: status, output: console.out.captured, error: console.err.capturedText)
}

/// The built `pogreb` binary: beside this test bundle in the build directory (SwiftPM builds the
/// product for the test target that depends on it), else in `.build-tool/debug` or `.build/debug`
/// under the working directory, else `$POGREB_BINARY`.
func pogrebBinary() throws -> String {
    if let path = try? pogrebExecutable() { return path }
    var candidates: [String] = []
    if let value = getenv("POGREB_BINARY") { candidates.append(String(cString: value)) }
    var cwd = [CChar](repeating: 0, count: Int(PATH_MAX))
    if getcwd(&cwd, cwd.count) != nil {
        let dir = stringFromCString(cwd)
        candidates += [dir + "/.build-tool/debug/pogreb", dir + "/.build/debug/pogreb"]
    }
    for candidate in candidates where access(candidate, X_OK) == 0 { return candidate }
    throw ToolError(
        .usage,
        "the pogreb binary was not found beside the test bundle nor in \(candidates); build it with `swift build "
            + "--product pogreb`"
    )
}

/// Runs the `pogreb` binary (or `executable`) with `arguments`, feeding `input` to its standard input.
func runBinary(
    _ arguments: [String], input: [UInt8] = [], environment extra: [String: String] = [:], executable: String? = nil
) throws -> CommandResult {
    let executable = try executable ?? pogrebBinary()
    var stdinPipe: [Int32] = [0, 0]
    var stdoutPipe: [Int32] = [0, 0]
    var stderrPipe: [Int32] = [0, 0]
    guard pipe(&stdinPipe) == 0, pipe(&stdoutPipe) == 0, pipe(&stderrPipe) == 0 else {
        throw ToolError(.io, "pipe failed")
    }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, stdinPipe[0], 0)
    posix_spawn_file_actions_adddup2(&actions, stdoutPipe[1], 1)
    posix_spawn_file_actions_adddup2(&actions, stderrPipe[1], 2)
    for fd in stdinPipe + stdoutPipe + stderrPipe { posix_spawn_file_actions_addclose(&actions, fd) }
    let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    var environment: [String] = []
    var index = 0
    while let entry = environ[index] {
        environment.append(String(cString: entry))
        index += 1
    }
    environment = environment.filter { entry in !extra.keys.contains { entry.hasPrefix($0 + "=") } }
    environment += extra.map { "\($0.key)=\($0.value)" }
    let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup($0) } + [nil]
    defer { for pointer in envp { free(pointer) } }
    var pid = pid_t()
    let spawned = posix_spawn(&pid, executable, &actions, nil, argv, envp)
    close(stdinPipe[0])
    close(stdoutPipe[1])
    close(stderrPipe[1])
    guard spawned == 0 else {
        close(stdinPipe[1])
        close(stdoutPipe[0])
        close(stderrPipe[0])
        throw ToolError(.io, "cannot start \(executable): \(describeErrno(spawned))")
    }
    // Feed standard input from a thread so a large input cannot deadlock against the outputs.
    let writerFD = stdinPipe[1]
    let feeder = startThread {
        var done = 0
        while done < input.count {
            let n = input.withUnsafeBytes { write(writerFD, $0.baseAddress! + done, input.count - done) }
            if n <= 0 { break }
            done += n
        }
        close(writerFD)
    }
    var output: [UInt8] = []
    var error: [UInt8] = []
    var open: [Int32] = [stdoutPipe[0], stderrPipe[0]]
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while !open.isEmpty {
        var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        if poll(&fds, nfds_t(fds.count), -1) < 0 {
            if errno == EINTR { continue }
            break
        }
        for entry in fds where entry.revents != 0 {
            let n = chunk.withUnsafeMutableBytes { read(entry.fd, $0.baseAddress, $0.count) }
            if n <= 0 {
                close(entry.fd)
                open.removeAll { $0 == entry.fd }
            } else if entry.fd == stdoutPipe[0] {
                output += chunk[0..<n]
            } else {
                error += chunk[0..<n]
            }
        }
    }
    joinThread(feeder)
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    let code = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    return CommandResult(status: code, output: output, error: String(decoding: error, as: UTF8.self))
}

/// A new temporary directory, removed when the value is released.
final class TemporaryDirectory {
    let path: String

    init(_ name: String = "tool") throws {
        path = try Files.makeTemporaryDirectory(prefix: "pogreb-test-" + name)
    }

    /// A path inside the directory (not created).
    func child(_ name: String) -> String { path + "/" + name }

    deinit { Files.removeTree(path) }
}

/// The segment files of the database at `path`, oldest first.
func segmentFiles(_ path: String) throws -> [String] {
    try Files.list(path).map(\.name).filter { $0.hasPrefix("segment-") && $0.hasSuffix(".pgl") }.sorted().map {
        path + "/" + $0
    }
}

/// JSON Lines of `count` items with varied binary keys and values (deterministic).
func sampleJSONLines(count: Int, seed: UInt64 = 1) -> [UInt8] {
    var stream = RandomStream(seed: seed)
    var output: [UInt8] = []
    let encoder = LineEncoder(style: .jsonl, keysOnly: false)
    for i in 0..<count {
        var key = Array("item-\(i)-".utf8)
        for _ in 0..<Int(stream.next() % 24) { key.append(UInt8(truncatingIfNeeded: stream.next())) }
        var value: [UInt8] = []
        for _ in 0..<Int(stream.next() % 300) { value.append(UInt8(truncatingIfNeeded: stream.next())) }
        encoder.append(key: key, value: value, to: &output)
    }
    return output
}

func readBytes(_ path: String) throws -> [UInt8] { try readFile(path) }

func writeBytes(_ bytes: [UInt8], to path: String) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { throw ToolError(.io, "cannot create \(path)") }
    defer { close(fd) }
    var done = 0
    while done < bytes.count {
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, bytes.count - done) }
        guard n > 0 else { throw ToolError(.io, "cannot write \(path)") }
        done += n
    }
}

/// Flips one bit of the byte at `offset` of the file at `path`.
func flipBit(_ path: String, at offset: Int64, bit: UInt8 = 0x04) throws {
    let fd = open(path, O_RDWR)
    guard fd >= 0 else { throw ToolError(.io, "cannot open \(path)") }
    defer { close(fd) }
    var byte: UInt8 = 0
    guard pread(fd, &byte, 1, off_t(offset)) == 1 else { throw ToolError(.io, "cannot read \(path)") }
    byte ^= bit
    guard pwrite(fd, &byte, 1, off_t(offset)) == 1 else { throw ToolError(.io, "cannot write \(path)") }
}

func fileLength(_ path: String) -> Int64 {
    var info = stat()
    return stat(path, &info) == 0 ? Int64(info.st_size) : -1
}
