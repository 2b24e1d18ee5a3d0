import NIOCore

/// The RESP2 reply forms, written into a buffer that collects one read batch's replies.
extension ByteBuffer {
    /// `+text\r\n`. `text` must hold no line end (every caller passes a constant).
    mutating func writeSimpleString(_ text: StaticString) {
        writeInteger(UInt8(ascii: "+"))
        writeStaticString(text)
        writeStaticString("\r\n")
    }

    /// `-text\r\n`, with every control byte of `text` replaced by a space so that the reply
    /// stays one line whatever a client sent (errors quote arguments).
    mutating func writeError(_ text: String) {
        writeInteger(UInt8(ascii: "-"))
        for byte in text.utf8 { writeInteger(byte < 0x20 || byte == 0x7F ? UInt8(ascii: " ") : byte) }
        writeStaticString("\r\n")
    }

    /// `:n\r\n`.
    mutating func writeRESPInteger(_ value: Int) {
        writeInteger(UInt8(ascii: ":"))
        writeString(String(value))
        writeStaticString("\r\n")
    }

    /// `$n\r\n<bytes>\r\n`, or the null bulk `$-1\r\n` for `nil`.
    mutating func writeBulk(_ bytes: [UInt8]?) {
        guard let bytes else {
            writeStaticString("$-1\r\n")
            return
        }
        writeBulkHeader(bytes.count)
        writeBytes(bytes)
        writeStaticString("\r\n")
    }

    /// A bulk string of the UTF-8 bytes of `text`.
    mutating func writeBulk(_ text: String) {
        writeBulkHeader(text.utf8.count)
        writeString(text)
        writeStaticString("\r\n")
    }

    /// `$n\r\n`: the start of a bulk string whose `n` bytes and line end the caller writes.
    mutating func writeBulkHeader(_ length: Int) {
        writeInteger(UInt8(ascii: "$"))
        writeString(String(length))
        writeStaticString("\r\n")
    }

    /// `*n\r\n`: the start of an array whose `n` elements the caller writes.
    mutating func writeArrayHeader(_ count: Int) {
        writeInteger(UInt8(ascii: "*"))
        writeString(String(count))
        writeStaticString("\r\n")
    }
}
