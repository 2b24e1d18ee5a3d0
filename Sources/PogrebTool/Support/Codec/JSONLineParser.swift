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
        guard peek == UInt8(ascii: "{") else {
            throw fail(peek == nil ? "expected a JSON object, found an empty line" : "expected '{'")
        }
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
        CodecError(
            what: i < bytes.count ? "invalid JSON: \(what)" : "invalid JSON: \(what) (the line ends early)",
            position: i + 1)
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
        case UInt8(ascii: "t"):
            try literal("true")
            return .other("true")
        case UInt8(ascii: "f"):
            try literal("false")
            return .other("false")
        case UInt8(ascii: "n"):
            try literal("null")
            return .other("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            while let d = peek,
                d == UInt8(ascii: "-") || d == UInt8(ascii: "+") || d == UInt8(ascii: ".") || d == UInt8(ascii: "e")
                    || d == UInt8(ascii: "E") || (d >= UInt8(ascii: "0") && d <= UInt8(ascii: "9"))
            {
                i += 1
            }
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
            case UInt8(ascii: "\""):
                _ = try string()
                continue
            case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
                if depth == 0 {
                    i += 1
                    return
                }
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
