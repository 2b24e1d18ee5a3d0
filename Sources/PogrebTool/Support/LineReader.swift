import Glibc

/// Reads lines from a file descriptor (or from bytes) in large chunks.
///
/// A line ends at `\n`; a `\r` before it is dropped, and so is the last line's missing newline.
/// Lines are numbered from 1; ``bytesRead`` is the input consumed so far (for progress).
struct LineReader: ~Copyable {
    private let descriptor: Int32
    private let ownsDescriptor: Bool
    private var buffer: [UInt8]
    private var start = 0
    private var end = 0
    private var finished = false
    private(set) var lineNumber = 0
    private(set) var bytesRead: Int64 = 0
    let name: String

    /// Reads the file at `path`, or standard input for `-`.
    init(path: String) throws(ToolError) {
        if path == "-" {
            if let input = Console.current.input {
                self.init(bytes: input, name: "standard input")
                return
            }
            self.init(descriptor: 0, owns: false, name: "standard input")
            return
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            throw ToolError(code == ENOENT ? .usage : .io, "cannot open \(path): \(describeErrno(code))")
        }
        self.init(descriptor: fd, owns: true, name: path)
    }

    init(descriptor: Int32, owns: Bool, name: String) {
        self.descriptor = descriptor
        self.ownsDescriptor = owns
        self.buffer = [UInt8](repeating: 0, count: 1 << 20)
        self.name = name
    }

    init(bytes: [UInt8], name: String) {
        self.descriptor = -1
        self.ownsDescriptor = false
        self.buffer = bytes
        self.end = bytes.count
        self.finished = true
        self.name = name
    }

    deinit {
        if ownsDescriptor { close(descriptor) }
    }

    /// The next line, or `nil` at the end of the input.
    mutating func nextLine() throws(ToolError) -> ArraySlice<UInt8>? {
        while true {
            if let newline = buffer[start..<end].firstIndex(of: UInt8(ascii: "\n")) {
                var line = buffer[start..<newline]
                bytesRead += Int64(newline + 1 - start)
                start = newline + 1
                if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
                lineNumber += 1
                return line
            }
            if finished {
                guard start < end else { return nil }
                var line = buffer[start..<end]
                bytesRead += Int64(end - start)
                start = end
                if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
                lineNumber += 1
                return line
            }
            try fill()
        }
    }

    private mutating func fill() throws(ToolError) {
        if start > 0 {
            let remaining = end - start
            if remaining > 0 {
                buffer.withUnsafeMutableBytes { raw in
                    _ = memmove(raw.baseAddress!, raw.baseAddress! + start, remaining)
                }
            }
            start = 0
            end = remaining
        }
        if end == buffer.count {
            guard buffer.count < 1 << 31 else {
                throw ToolError(.usage, "\(name): line \(lineNumber + 1) is longer than 2 GiB")
            }
            buffer.append(contentsOf: repeatElement(0, count: buffer.count))
        }
        while true {
            let descriptor = self.descriptor
            let end = self.end
            let n = buffer.withUnsafeMutableBytes { raw in read(descriptor, raw.baseAddress! + end, raw.count - end) }
            if n < 0 {
                if errno == EINTR {
                    if Interrupt.requested { throw Interrupt.error }
                    continue
                }
                throw ToolError(.io, "cannot read \(name): \(describeErrno(errno))")
            }
            if n == 0 { finished = true }
            self.end += n
            return
        }
    }
}
