/// The encodings the tool reads and writes keys and values in.
///
/// - `text`: bytes as they are. On output (`scan`, TSV) bytes are escaped so a line stays one
///   line and any byte string survives a round trip: valid UTF-8 is printed as is, except
///   `\` → `\\`, tab → `\t`, newline → `\n`, carriage return → `\r`, and every other control
///   byte, DEL and every byte that is not part of valid UTF-8 → `\xHH`.
/// - `hex`: two lowercase hex digits a byte (upper case and a `0x` prefix are accepted on input).
/// - `base64`: RFC 4648 with padding (the standard alphabet).
enum ByteEncoding: String, Sendable, CaseIterable {
    case text, hex, base64

    func encode(_ bytes: some Collection<UInt8>, into output: inout [UInt8]) {
        switch self {
        case .text: Codec.escape(bytes, into: &output)
        case .hex: Codec.hex(bytes, into: &output)
        case .base64: Codec.base64(bytes, into: &output)
        }
    }

    func encode(_ bytes: some Collection<UInt8>) -> String {
        var output: [UInt8] = []
        encode(bytes, into: &output)
        return String(decoding: output, as: UTF8.self)
    }

    /// Decodes an escaped (`text`), hex or base64 field.
    func decode(_ field: some Collection<UInt8>) throws(CodecError) -> [UInt8] {
        switch self {
        case .text: return try Codec.unescape(field)
        case .hex: return try Codec.unhex(field)
        case .base64: return try Codec.unbase64(field)
        }
    }
}

/// What is wrong with an encoded field; `position` counts characters from 1.
struct CodecError: Error, Sendable, CustomStringConvertible {
    var what: String
    var position: Int?
    var description: String {
        if let position { return "\(what) at character \(position)" }
        return what
    }
}

/// The byte codecs, one encoding a file: HexCodec.swift, Base64Codec.swift, EscapedTextCodec.swift,
/// JSONStringCodec.swift.
enum Codec {
    /// A byte for an error message: the character when printable, else `0x..`.
    static func describe(_ c: UInt8) -> String {
        if c >= 0x21 && c < 0x7F { return "'\(Character(Unicode.Scalar(c)))'" }
        return "0x" + hexString([c])
    }
}
