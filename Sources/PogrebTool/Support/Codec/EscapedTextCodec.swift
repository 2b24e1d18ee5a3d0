// Escaped text: bytes as they are, with `\\`, tab, newline, CR, other control bytes, DEL and invalid
// UTF-8 escaped (see ``ByteEncoding/text``).

extension Codec {
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
                throw CodecError(
                    what: "unknown escape \\\(describe(chars[i + 1]).dropFirst().dropLast())"
                        + " (use \\\\ for a backslash)",
                    position: i + 1)
            }
            i += 2
        }
        return result
    }
}
