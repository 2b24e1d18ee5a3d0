import Glibc
import Pogreb
import Synchronization

/// Where a command's output goes, and where its standard input comes from.
///
/// The binary writes to file descriptors 1 and 2 and reads descriptor 0. Tests run commands
/// in-process inside `Console.$current.withValue(.capturing(...)) { ... }` to capture both
/// outputs and to supply standard input.
struct Console: Sendable {
    @TaskLocal static var current = Console.standard

    let out: OutputSink
    let err: OutputSink
    /// Bytes that stand for standard input; `nil` reads descriptor 0.
    let input: [UInt8]?

    static let standard = Console(out: OutputSink(descriptor: 1), err: OutputSink(descriptor: 2), input: nil)

    /// A console that keeps everything written to it; `input` stands for standard input.
    static func capturing(input: [UInt8] = []) -> Console {
        Console(out: OutputSink(descriptor: nil), err: OutputSink(descriptor: nil), input: input)
    }

    /// Whether standard output is a terminal (never when captured).
    var stdoutIsTerminal: Bool { out.isTerminal }
    /// Whether standard error is a terminal (never when captured).
    var stderrIsTerminal: Bool { err.isTerminal }
    /// Whether standard input is a terminal (never when supplied).
    var stdinIsTerminal: Bool { input == nil && isatty(0) != 0 }
}

/// A buffered writer to a file descriptor, or to memory.
///
/// Writes are buffered up to 64 KiB and flushed when full, on `flush()`, and before anything
/// goes to the other stream of the same console (callers flush stdout before writing errors).
/// A write error (EPIPE when the reader went away) is remembered and thrown by `flush()`.
final class OutputSink: Sendable {
    private struct State {
        var buffer: [UInt8] = []
        var captured: [UInt8] = []
        var failure: Int32 = 0
    }

    let descriptor: Int32?
    let isTerminal: Bool
    private let state = Mutex(State())

    init(descriptor: Int32?) {
        self.descriptor = descriptor
        self.isTerminal = descriptor.map { isatty($0) != 0 } ?? false
    }

    func write(_ text: String) {
        var text = text
        text.withUTF8 { write(bytes: $0) }
    }

    func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { write(bytes: $0) }
    }

    func write(bytes: UnsafeBufferPointer<UInt8>) {
        state.withLock { state in
            guard descriptor != nil else {
                state.captured.append(contentsOf: bytes)
                return
            }
            state.buffer.append(contentsOf: bytes)
            if state.buffer.count >= 64 << 10 { drain(&state) }
        }
    }

    /// Writes everything buffered. - Throws: `ToolError` (I/O) when a write failed.
    func flush() throws(ToolError) {
        let failure = state.withLock { state -> Int32 in
            drain(&state)
            return state.failure
        }
        if failure == EPIPE { throw ToolError(.io, "", silent: true) }
        if failure != 0 { throw ToolError(.io, "cannot write the output: \(String(cString: strerror(failure)))") }
    }

    /// Flushes, ignoring errors (used on the way out).
    func flushQuietly() {
        state.withLock { drain(&$0) }
    }

    /// Whether a write failed (the reader of a pipe went away, a disk filled up).
    var hasFailed: Bool { state.withLock { $0.failure != 0 } }

    /// Everything written so far, for captured sinks.
    var captured: [UInt8] {
        state.withLock { $0.buffer + $0.captured }
    }

    var capturedText: String { String(decoding: captured, as: UTF8.self) }

    private func drain(_ state: inout State) {
        guard let descriptor, !state.buffer.isEmpty else { return }
        defer { state.buffer.removeAll(keepingCapacity: true) }
        guard state.failure == 0 else { return }
        var done = 0
        let total = state.buffer.count
        state.buffer.withUnsafeBytes { raw in
            while done < total {
                let n = Glibc.write(descriptor, raw.baseAddress! + done, total - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    state.failure = errno
                    return
                }
                done += n
            }
        }
    }
}

extension Console {
    /// Writes `text` and a newline to standard error, prefixed with `pogreb: `.
    func error(_ text: String) {
        out.flushQuietly()
        err.write("pogreb: " + text + "\n")
        err.flushQuietly()
    }

    /// Writes `text` and a newline to standard error, without a prefix.
    func note(_ text: String) {
        out.flushQuietly()
        err.write(text + "\n")
        err.flushQuietly()
    }

    /// Reads all of standard input.
    func readAllInput() throws(ToolError) -> [UInt8] {
        if let input { return input }
        return try readAll(descriptor: 0, name: "standard input")
    }
}

/// Reads a descriptor to its end.
func readAll(descriptor: Int32, name: String) throws(ToolError) -> [UInt8] {
    var result: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR { continue }
            throw ToolError(.io, "cannot read \(name): \(String(cString: strerror(errno)))")
        }
        if n == 0 { break }
        result.append(contentsOf: chunk[0..<n])
        guard result.count <= Int(UInt32.max) else {
            throw ToolError(.usage, "\(name) is larger than 4 GiB; a value is at most \(Database.maxValueSize) bytes")
        }
    }
    return result
}

/// Reads a whole file.
func readFile(_ path: String) throws(ToolError) -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else {
        let code = errno
        throw ToolError(code == ENOENT ? .usage : .io, "cannot open \(path): \(String(cString: strerror(code)))")
    }
    defer { close(fd) }
    return try readAll(descriptor: fd, name: path)
}
