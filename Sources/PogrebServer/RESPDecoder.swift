import NIOCore

/// The bounds a request must keep to. Each is checked on the length a request announces, before
/// anything of that length is allocated or buffered.
public struct RESPLimits: Sendable, Equatable {
    /// The longest bulk string (`$<length>`), in bytes. Default: 512 MiB + 64 KiB, room for the
    /// largest value the store takes (``Pogreb/Database/maxValueSize``) and nothing much beyond.
    public var maxBulkLength: Int = (512 << 20) + (64 << 10)
    /// The most elements of a request array (`*<count>`). Default: 1 048 576 (Redis' own limit).
    public var maxArrayLength: Int = 1 << 20
    /// The longest inline request (a line of words, as typed into telnet), in bytes, and the
    /// longest `*`/`$` header line. Default: 64 KiB (Redis' own limit).
    public var maxInlineLength: Int = 64 << 10
    /// The most bytes of arguments one request may carry in all. Default: 1 GiB (Redis'
    /// `client-query-buffer-limit`).
    public var maxRequestBytes: Int = 1 << 30

    /// The defaults above.
    public init() {}
}

/// A request that breaks the protocol or a limit: the server answers `-ERR Protocol error: …`
/// and closes the connection, since what follows in the stream cannot be framed any more.
public struct RESPProtocolError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What was wrong, in Redis' wording where Redis has one (`invalid bulk length`, …).
    public var reason: String

    /// An error with `reason`.
    public init(_ reason: String) { self.reason = reason }

    /// The reply line's text, without the leading `-` and the line end.
    public var description: String { "ERR Protocol error: \(reason)" }
}

/// Splits a byte stream into requests: RESP2 arrays of bulk strings (what every client sends)
/// and inline requests (words on one line).
///
/// The decoder keeps its progress between calls: arguments already complete are taken out of the
/// buffer, so a request that arrives in many reads costs one pass over its bytes, never a new
/// parse from its start. A length header is read and checked against ``RESPLimits`` before
/// the bytes it announces are waited for or copied; an array's storage grows with the
/// arguments that actually arrive, never from the announced count alone.
public struct RESPDecoder: Sendable {
    /// The bounds every request is checked against.
    public let limits: RESPLimits
    /// The arguments of the array request being read.
    private var arguments: [[UInt8]] = []
    /// The arguments still to come for the array request being read; `nil` between requests.
    private var remaining: Int?
    /// The argument bytes of the array request being read so far.
    private var requestBytes = 0

    /// A decoder that enforces `limits`.
    public init(limits: RESPLimits = RESPLimits()) { self.limits = limits }

    /// Takes the next complete request out of `buffer`.
    ///
    /// Empty requests (`*0`, `*-1`, a blank line) are skipped. Consumes only whole arguments; a
    /// partial header or bulk string stays in `buffer` for the next call.
    /// - Returns: the request's arguments (the command name first), or `nil` when `buffer` holds
    ///   no complete request yet.
    /// - Throws: ``RESPProtocolError`` when the bytes cannot be a request or break a limit; the
    ///   decoder is then unusable (the stream lost its framing).
    public mutating func next(_ buffer: inout ByteBuffer) throws(RESPProtocolError) -> [[UInt8]]? {
        while true {
            if remaining == nil {
                guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return nil }
                if first == UInt8(ascii: "*") {
                    guard let (count, length) = try header(buffer, what: "multibulk count") else { return nil }
                    guard count <= limits.maxArrayLength else { throw RESPProtocolError("invalid multibulk length") }
                    buffer.moveReaderIndex(forwardBy: length)
                    if count <= 0 { continue }
                    remaining = count
                    requestBytes = 0
                    // Bounded by what one read can carry, not by the announced count.
                    arguments.reserveCapacity(min(count, 64))
                } else {
                    guard let words = try inline(&buffer) else { return nil }
                    if words.isEmpty { continue }
                    return words
                }
            }
            while let left = remaining, left > 0 {
                guard let argument = try bulk(&buffer) else { return nil }
                arguments.append(argument)
                remaining = left - 1
            }
            remaining = nil
            defer { arguments = [] }
            return arguments
        }
    }

    /// Reads a `*<n>\r\n` or `$<n>\r\n` header at the reader index without consuming it.
    /// - Returns: the number and the header's length in bytes, or `nil` when its line end has not
    ///   arrived yet.
    private func header(_ buffer: ByteBuffer, what: String) throws(RESPProtocolError) -> (Int, Int)? {
        let view = buffer.readableBytesView
        let start = view.startIndex
        // At most 20 digits and a sign fit a 64-bit number; anything longer is an error at once.
        let scanEnd = min(view.endIndex, start + 24)
        var index = start + 1
        var value = 0
        var negative = false
        var digits = 0
        while index < scanEnd {
            let byte = view[index]
            if byte == UInt8(ascii: "\r") {
                guard index + 1 < view.endIndex else { return nil }
                guard view[index + 1] == UInt8(ascii: "\n"), digits > 0 else {
                    throw RESPProtocolError("invalid \(what)")
                }
                return (negative ? -value : value, index + 2 - start)
            }
            if byte == UInt8(ascii: "-") && index == start + 1 {
                negative = true
            } else if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
                // 18 digits fit an Int with room to spare; no limit is anywhere near.
                guard digits < 18 else { throw RESPProtocolError("too big \(what) string") }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
                digits += 1
            } else {
                throw RESPProtocolError("invalid \(what)")
            }
            index += 1
        }
        if scanEnd - start >= 24 { throw RESPProtocolError("too big \(what) string") }
        return nil
    }

    /// Takes one `$<n>\r\n<n bytes>\r\n` argument out of `buffer`, or nothing when it has not
    /// arrived whole.
    private mutating func bulk(_ buffer: inout ByteBuffer) throws(RESPProtocolError) -> [UInt8]? {
        guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return nil }
        guard first == UInt8(ascii: "$") else {
            throw RESPProtocolError("expected '$', got '\(printable(first))'")
        }
        guard let (length, headerLength) = try header(buffer, what: "bulk length") else { return nil }
        guard length >= 0, length <= limits.maxBulkLength else { throw RESPProtocolError("invalid bulk length") }
        guard requestBytes + length <= limits.maxRequestBytes else {
            throw RESPProtocolError("request larger than \(limits.maxRequestBytes) bytes")
        }
        guard buffer.readableBytes >= headerLength + length + 2 else { return nil }
        let dataStart = buffer.readerIndex + headerLength
        guard buffer.getInteger(at: dataStart + length, as: UInt8.self) == UInt8(ascii: "\r"),
            buffer.getInteger(at: dataStart + length + 1, as: UInt8.self) == UInt8(ascii: "\n")
        else { throw RESPProtocolError("bulk string not followed by CRLF") }
        let bytes = buffer.getBytes(at: dataStart, length: length) ?? []
        buffer.moveReaderIndex(forwardBy: headerLength + length + 2)
        requestBytes += length
        return bytes
    }

    /// Takes one inline request (a line ending in `\n`, an optional `\r` before it) out of
    /// `buffer` and splits it at spaces and tabs. No quoting: an argument holding a space needs
    /// the array form.
    private func inline(_ buffer: inout ByteBuffer) throws(RESPProtocolError) -> [[UInt8]]? {
        let view = buffer.readableBytesView
        let scanEnd = min(view.endIndex, view.startIndex + limits.maxInlineLength + 2)
        guard let newline = view[view.startIndex..<scanEnd].firstIndex(of: UInt8(ascii: "\n")) else {
            if scanEnd - view.startIndex > limits.maxInlineLength { throw RESPProtocolError("too big inline request") }
            return nil
        }
        var lineEnd = newline
        if lineEnd > view.startIndex && view[lineEnd - 1] == UInt8(ascii: "\r") { lineEnd -= 1 }
        let words = view[view.startIndex..<lineEnd].split(
            whereSeparator: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
        ).map { Array($0) }
        buffer.moveReaderIndex(forwardBy: newline + 1 - view.startIndex)
        return words
    }
}

/// `byte` as Redis shows it in an error: itself when printable, else its hex code.
func printable(_ byte: UInt8) -> String {
    if byte >= 0x20 && byte < 0x7F { return String(UnicodeScalar(byte)) }
    return "\\x" + String(byte, radix: 16)
}
