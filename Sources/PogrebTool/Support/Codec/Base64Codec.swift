// Base64: RFC 4648 with padding, the standard alphabet.

extension Codec {
    private static let base64Alphabet: [UInt8] = Array(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
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
                                failure = CodecError(
                                    what: "invalid base64 character \(describe(c))", position: i + j + 1)
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
                        failure = CodecError(
                            what: "invalid base64: non-zero bits before the padding", position: i + 4 - padding)
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
}
