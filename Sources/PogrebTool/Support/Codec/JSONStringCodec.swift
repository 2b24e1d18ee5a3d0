// JSON strings, as written in JSON Lines output.

extension Codec {
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
