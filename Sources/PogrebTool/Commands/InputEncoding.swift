import ArgumentParser

/// How keys and values typed on the command line are written.
enum InputEncoding: String, EnumerableFlag, Sendable {
    case text, hex, base64

    static func help(for value: InputEncoding) -> ArgumentHelp? {
        switch value {
        case .text: return "Keys and values are given as text (default)."
        case .hex: return "Keys and values on the command line are given in hex."
        case .base64: return "Keys and values on the command line are given in base64."
        }
    }

    var byteEncoding: ByteEncoding {
        switch self {
        case .text: return .text
        case .hex: return .hex
        case .base64: return .base64
        }
    }

    /// Decodes a command-line argument: text is taken byte for byte, hex and base64 are decoded.
    func decode(_ argument: String, what: String) throws(ToolError) -> [UInt8] {
        let bytes = Array(argument.utf8)
        switch self {
        case .text: return bytes
        case .hex, .base64:
            do {
                return try byteEncoding.decode(bytes)
            } catch {
                throw ToolError(.usage, "the \(what) is not valid \(rawValue): \(error)")
            }
        }
    }
}
