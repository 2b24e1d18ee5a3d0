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

enum Codec {
    // MARK: Hex

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    static func hex(_ bytes: some Collection<UInt8>, into output: inout [UInt8]) {
        output.reserveCapacity(output.count + bytes.count * 2)
        for byte in bytes {
            output.append(hexDigits[Int(byte >> 4)])
            output.append(hexDigits[Int(byte & 15)])
        }
    }

    static func hexString(_ bytes: some Collection<UInt8>) -> String {
        var output: [UInt8] = []
        hex(bytes, into: &output)
        return String(decoding: output, as: UTF8.self)
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    static func unhex(_ field: some Collection<UInt8>) throws(CodecError) -> [UInt8] {
        var chars = Array(field)
        var offset = 0
        if chars.count >= 2, chars[0] == UInt8(ascii: "0"), chars[1] == UInt8(ascii: "x") || chars[1] == UInt8(ascii: "X") {
            chars.removeFirst(2)
            offset = 2
        }
        guard chars.count % 2 == 0 else {
            throw CodecError(what: "invalid hex: an odd number of digits (\(chars.count))")
        }
        var result: [UInt8] = []
        result.reserveCapacity(chars.count / 2)
        var i = 0
        while i < chars.count {
            guard let high = hexValue(chars[i]) else { throw CodecError(what: "invalid hex digit \(describe(chars[i]))", position: offset + i + 1) }
            guard let low = hexValue(chars[i + 1]) else { throw CodecError(what: "invalid hex digit \(describe(chars[i + 1]))", position: offset + i + 2) }
            result.append(high << 4 | low)
            i += 2
        }
        return result
    }

    // MARK: Base64

    private static let base64Alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    private static let base64Values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in base64Alphabet.enumerated() { table[Int(c)] = UInt8(i) }
        return table
    }()

    static func base64(_ bytes: some Collection<UInt8>, into output: inout [UInt8]) {
        let alphabet = base64Alphabet
        output.reserveCapacity(output.count + (bytes.count + 2) / 3 * 4)
        var iterator = bytes.makeIterator()
        while let a = iterator.next() {
            let b = iterator.next()
            let c = iterator.next()
            output.append(alphabet[Int(a >> 2)])
            output.append(alphabet[Int((a & 3) << 4 | (b ?? 0) >> 4)])
            if let b {
                output.append(alphabet[Int((b & 15) << 2 | (c ?? 0) >> 6)])
            } else {
                output.append(UInt8(ascii: "="))
            }
            if let c {
                output.append(alphabet[Int(c & 63)])
            } else {
                output.append(UInt8(ascii: "="))
            }
        }
    }

    static func base64String(_ bytes: some Collection<UInt8>) -> String {
        var output: [UInt8] = []
        base64(bytes, into: &output)
        return String(decoding: output, as: UTF8.self)
    }

    static func unbase64(_ field: some Collection<UInt8>) throws(CodecError) -> [UInt8] {
        if let result = field.withContiguousStorageIfAvailable({ unbase64Buffer($0) }) { return try result.get() }
        return try Array(field).withUnsafeBufferPointer { unbase64Buffer($0) }.get()
    }

    private static func unbase64Buffer(_ chars: UnsafeBufferPointer<UInt8>) -> Result<[UInt8], CodecError> {
        let count = chars.count
        guard count % 4 == 0 else {
            return .failure(CodecError(what: "invalid base64: the length (\(count)) is not a multiple of 4"))
        }
        var padding = 0
        if count > 0 && chars[count - 1] == UInt8(ascii: "=") { padding += 1 }
        if count > 1 && chars[count - 2] == UInt8(ascii: "=") { padding += 1 }
        let table = base64Values
        var result = [UInt8](repeating: 0, count: count / 4 * 3 - padding)
        var failure: CodecError?
        result.withUnsafeMutableBufferPointer { out in
            table.withUnsafeBufferPointer { table in
                var o = 0
                var i = 0
                while i < count {
                    let last = i + 4 == count
                    var values: (UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0)
                    for j in 0..<4 {
                        let c = chars[i + j]
                        var value: UInt32
                        if c == UInt8(ascii: "=") {
                            guard last, j >= 4 - padding else {
                                failure = CodecError(what: "invalid base64: misplaced padding '='", position: i + j + 1)
                                return
                            }
                            value = 0
                        } else {
                            value = UInt32(table[Int(c)])
                            guard value != 0xFF else {
                                failure = CodecError(what: "invalid base64 character \(describe(c))", position: i + j + 1)
                                return
                            }
                        }
                        switch j {
                        case 0: values.0 = value
                        case 1: values.1 = value
                        case 2: values.2 = value
                        default: values.3 = value
                        }
                    }
                    let triple = values.0 << 18 | values.1 << 12 | values.2 << 6 | values.3
                    let take = last ? 3 - padding : 3
                    if take > 0 { out[o] = UInt8(truncatingIfNeeded: triple >> 16) }
                    if take > 1 { out[o + 1] = UInt8(truncatingIfNeeded: triple >> 8) }
                    if take > 2 { out[o + 2] = UInt8(truncatingIfNeeded: triple) }
                    // Canonical form: the bits that padding drops must be zero.
                    if last && padding > 0 && (padding == 1 ? triple & 0xFF : triple & 0xFFFF) != 0 {
                        failure = CodecError(what: "invalid base64: non-zero bits before the padding", position: i + 4 - padding)
                        return
                    }
                    o += take
                    i += 4
                }
            }
        }
        if let failure { return .failure(failure) }
        return .success(result)
    }

    // MARK: Escaped text

    /// Escapes `bytes` as described on ``ByteEncoding/text``.
    static func escape(_ bytes: some Collection<UInt8>, into output: inout [UInt8]) {
        let bytes = Array(bytes)
        var i = 0
        let n = bytes.count
        while i < n {
            let b = bytes[i]
            if b < 0x80 {
                switch b {
                case UInt8(ascii: "\\"): output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
                case UInt8(ascii: "\t"): output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
                case UInt8(ascii: "\n"): output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
                case UInt8(ascii: "\r"): output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
                case 0..<0x20, 0x7F: escapeByte(b, into: &output)
                default: output.append(b)
                }
                i += 1
                continue
            }
            let length = utf8SequenceLength(bytes, at: i)
            if length == 0 {
                escapeByte(b, into: &output)
                i += 1
            } else {
                output.append(contentsOf: bytes[i..<(i + length)])
                i += length
            }
        }
    }

    static func escapedString(_ bytes: some Collection<UInt8>) -> String {
        var output: [UInt8] = []
        escape(bytes, into: &output)
        return String(decoding: output, as: UTF8.self)
    }

    private static func escapeByte(_ b: UInt8, into output: inout [UInt8]) {
        output.append(UInt8(ascii: "\\"))
        output.append(UInt8(ascii: "x"))
        output.append(hexDigits[Int(b >> 4)])
        output.append(hexDigits[Int(b & 15)])
    }

    /// The length of the valid UTF-8 sequence (of a non-ASCII scalar) at `i`, or 0.
    static func utf8SequenceLength(_ bytes: [UInt8], at i: Int) -> Int {
        let b0 = bytes[i]
        let n = bytes.count
        func cont(_ k: Int) -> Bool { i + k < n && bytes[i + k] & 0xC0 == 0x80 }
        switch b0 {
        case 0xC2...0xDF:
            return cont(1) ? 2 : 0
        case 0xE0...0xEF:
            guard cont(1), cont(2) else { return 0 }
            let b1 = bytes[i + 1]
            if b0 == 0xE0 && b1 < 0xA0 { return 0 }  // overlong
            if b0 == 0xED && b1 >= 0xA0 { return 0 }  // surrogates
            return 3
        case 0xF0...0xF4:
            guard cont(1), cont(2), cont(3) else { return 0 }
            let b1 = bytes[i + 1]
            if b0 == 0xF0 && b1 < 0x90 { return 0 }
            if b0 == 0xF4 && b1 >= 0x90 { return 0 }
            return 4
        default:
            return 0
        }
    }

    /// Undoes ``escape(_:into:)``. Bytes other than `\` are taken as they are.
    static func unescape(_ field: some Collection<UInt8>) throws(CodecError) -> [UInt8] {
        let chars = Array(field)
        guard chars.contains(UInt8(ascii: "\\")) else { return chars }
        var result: [UInt8] = []
        result.reserveCapacity(chars.count)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            guard c == UInt8(ascii: "\\") else {
                result.append(c)
                i += 1
                continue
            }
            guard i + 1 < chars.count else { throw CodecError(what: "a lone backslash at the end", position: i + 1) }
            switch chars[i + 1] {
            case UInt8(ascii: "\\"): result.append(UInt8(ascii: "\\"))
            case UInt8(ascii: "t"): result.append(UInt8(ascii: "\t"))
            case UInt8(ascii: "n"): result.append(UInt8(ascii: "\n"))
            case UInt8(ascii: "r"): result.append(UInt8(ascii: "\r"))
            case UInt8(ascii: "0"): result.append(0)
            case UInt8(ascii: "x"):
                guard i + 3 < chars.count, let high = hexValue(chars[i + 2]), let low = hexValue(chars[i + 3]) else {
                    throw CodecError(what: "\\x must be followed by two hex digits", position: i + 1)
                }
                result.append(high << 4 | low)
                i += 4
                continue
            default:
                throw CodecError(what: "unknown escape \\\(describe(chars[i + 1]).dropFirst().dropLast()) (use \\\\ for a backslash)", position: i + 1)
            }
            i += 2
        }
        return result
    }

    static func describe(_ c: UInt8) -> String {
        if c >= 0x21 && c < 0x7F { return "'\(Character(Unicode.Scalar(c)))'" }
        return "0x" + hexString([c])
    }

    // MARK: JSON strings

    /// Appends `bytes` (UTF-8, or any bytes: invalid sequences become U+FFFD) as a JSON string.
    static func jsonString(_ text: some Collection<UInt8>, into output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        for b in text {
            switch b {
            case UInt8(ascii: "\""): output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case UInt8(ascii: "\n"): output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case UInt8(ascii: "\r"): output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case UInt8(ascii: "\t"): output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20:
                output.append(contentsOf: Array("\\u00".utf8))
                output.append(hexDigits[Int(b >> 4)])
                output.append(hexDigits[Int(b & 15)])
            default: output.append(b)
            }
        }
        output.append(UInt8(ascii: "\""))
    }

    static func jsonString(_ text: String) -> String {
        var output: [UInt8] = []
        jsonString(Array(text.utf8), into: &output)
        return String(decoding: output, as: UTF8.self)
    }
}

/// A parser for one line of JSON Lines: an object whose members are strings.
///
/// Not a general JSON parser: values other than strings are reported as errors by the caller
/// (they are parsed, so the error names the member). Positions count bytes from 1.
struct JSONLineParser {
    enum Value: Equatable {
        case string([UInt8])
        case other(String)  // the kind: number, object, array, true, false, null
    }

    private let bytes: [UInt8]
    private var i = 0

    init<C: Collection<UInt8>>(_ line: C) { bytes = Array(line) }

    static func parseObject<C: Collection<UInt8>>(_ line: C) throws(CodecError) -> [(name: String, value: Value)] {
        var parser = JSONLineParser(line)
        return try parser.object()
    }

    private mutating func object() throws(CodecError) -> [(name: String, value: Value)] {
        skipSpace()
        guard peek == UInt8(ascii: "{") else { throw fail(peek == nil ? "expected a JSON object, found an empty line" : "expected '{'") }
        i += 1
        var members: [(name: String, value: Value)] = []
        skipSpace()
        if peek == UInt8(ascii: "}") {
            i += 1
        } else {
            while true {
                skipSpace()
                guard peek == UInt8(ascii: "\"") else { throw fail("expected a member name in double quotes") }
                let name = String(decoding: try string(), as: UTF8.self)
                skipSpace()
                guard peek == UInt8(ascii: ":") else { throw fail("expected ':' after \"\(name)\"") }
                i += 1
                skipSpace()
                let value = try self.value()
                members.append((name, value))
                skipSpace()
                if peek == UInt8(ascii: ",") {
                    i += 1
                    continue
                }
                guard peek == UInt8(ascii: "}") else { throw fail("expected ',' or '}'") }
                i += 1
                break
            }
        }
        skipSpace()
        guard i == bytes.count else { throw fail("unexpected text after the object") }
        return members
    }

    private var peek: UInt8? { i < bytes.count ? bytes[i] : nil }

    private func fail(_ what: String) -> CodecError {
        CodecError(what: i < bytes.count ? "invalid JSON: \(what)" : "invalid JSON: \(what) (the line ends early)", position: i + 1)
    }

    private mutating func skipSpace() {
        while let c = peek, c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D { i += 1 }
    }

    private mutating func value() throws(CodecError) -> Value {
        guard let c = peek else { throw fail("expected a value") }
        switch c {
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            try skipNested()
            return .other(c == UInt8(ascii: "{") ? "an object" : "an array")
        case UInt8(ascii: "t"): try literal("true"); return .other("true")
        case UInt8(ascii: "f"): try literal("false"); return .other("false")
        case UInt8(ascii: "n"): try literal("null"); return .other("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            while let d = peek, d == UInt8(ascii: "-") || d == UInt8(ascii: "+") || d == UInt8(ascii: ".") || d == UInt8(ascii: "e") || d == UInt8(ascii: "E") || (d >= UInt8(ascii: "0") && d <= UInt8(ascii: "9")) { i += 1 }
            return .other("a number")
        default:
            throw fail("unexpected character \(Codec.describe(c))")
        }
    }

    private mutating func literal(_ word: String) throws(CodecError) {
        for c in word.utf8 {
            guard peek == c else { throw fail("invalid literal (expected \(word))") }
            i += 1
        }
    }

    private mutating func skipNested() throws(CodecError) {
        var depth = 0
        while let c = peek {
            switch c {
            case UInt8(ascii: "\""): _ = try string(); continue
            case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
                if depth == 0 { i += 1; return }
            default: break
            }
            i += 1
        }
        throw fail("unterminated object or array")
    }

    /// A string starting at the opening quote, unescaped to UTF-8.
    private mutating func string() throws(CodecError) -> [UInt8] {
        i += 1  // the opening quote
        var result: [UInt8] = []
        while true {
            guard let c = peek else { throw fail("unterminated string") }
            if c == UInt8(ascii: "\"") {
                i += 1
                return result
            }
            if c < 0x20 { throw fail("a control character in a string must be escaped") }
            if c != UInt8(ascii: "\\") {
                result.append(c)
                i += 1
                continue
            }
            i += 1
            guard let e = peek else { throw fail("unterminated escape") }
            i += 1
            switch e {
            case UInt8(ascii: "\""): result.append(UInt8(ascii: "\""))
            case UInt8(ascii: "\\"): result.append(UInt8(ascii: "\\"))
            case UInt8(ascii: "/"): result.append(UInt8(ascii: "/"))
            case UInt8(ascii: "b"): result.append(8)
            case UInt8(ascii: "f"): result.append(12)
            case UInt8(ascii: "n"): result.append(10)
            case UInt8(ascii: "r"): result.append(13)
            case UInt8(ascii: "t"): result.append(9)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if scalar >= 0xD800 && scalar < 0xDC00 {
                    guard peek == UInt8(ascii: "\\"), i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: "u") else {
                        throw fail("a high surrogate \\u escape must be followed by a low one")
                    }
                    i += 2
                    let low = try hex4()
                    guard low >= 0xDC00 && low < 0xE000 else { throw fail("invalid low surrogate") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if scalar >= 0xDC00 && scalar < 0xE000 {
                    throw fail("a lone low surrogate")
                }
                guard let u = Unicode.Scalar(scalar) else { throw fail("invalid \\u escape") }
                result.append(contentsOf: Array(String(Character(u)).utf8))
            default:
                i -= 1
                throw fail("invalid escape \\\(Character(Unicode.Scalar(e)))")
            }
        }
    }

    private mutating func hex4() throws(CodecError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let c = peek else { throw fail("\\u needs four hex digits") }
            let digit: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(c - UInt8(ascii: "A") + 10)
            default: throw fail("\\u needs four hex digits")
            }
            value = value << 4 | digit
            i += 1
        }
        return value
    }
}
