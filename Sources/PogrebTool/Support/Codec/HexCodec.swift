// Hex: two lowercase hex digits a byte (upper case and a `0x` prefix are accepted on input).

extension Codec {
    static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

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

    static func hexValue(_ c: UInt8) -> UInt8? {
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
        if chars.count >= 2, chars[0] == UInt8(ascii: "0"),
            chars[1] == UInt8(ascii: "x") || chars[1] == UInt8(ascii: "X")
        {
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
            guard let high = hexValue(chars[i]) else {
                throw CodecError(what: "invalid hex digit \(describe(chars[i]))", position: offset + i + 1)
            }
            guard let low = hexValue(chars[i + 1]) else {
                throw CodecError(what: "invalid hex digit \(describe(chars[i + 1]))", position: offset + i + 2)
            }
            result.append(high << 4 | low)
            i += 2
        }
        return result
    }
}
