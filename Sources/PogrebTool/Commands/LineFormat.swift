import ArgumentParser
import Pogreb

/// The line formats of `scan`, `import` and `export`.
///
/// - `jsonl` (JSON Lines): one object a line, `{"key":"<base64>","value":"<base64>"}`; binary
///   safe. On import, `"key_utf8"` / `"value_utf8"` may be used instead of `"key"` / `"value"` to
///   give text as a plain JSON string. Blank lines are skipped.
/// - `tsv`: `KEY<TAB>VALUE` a line, each field in the chosen ``ByteEncoding`` (base64 by default;
///   `text` escapes tabs, newlines and backslashes, so any bytes survive). Blank lines are skipped.
enum LineFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case jsonl, tsv

    /// The format named by a file's extension, if any.
    static func guess(fromPath path: String) -> LineFormat? {
        let lower = path.lowercased()
        if lower.hasSuffix(".jsonl") || lower.hasSuffix(".ndjson") || lower.hasSuffix(".json") { return .jsonl }
        if lower.hasSuffix(".tsv") || lower.hasSuffix(".tab") { return .tsv }
        return nil
    }
}

extension ByteEncoding: ExpressibleByArgument {}

/// Encodes items as lines.
struct LineEncoder {
    enum Style {
        case jsonl
        case separated(ByteEncoding)  // TSV and scan's text/hex/base64 output
    }

    let style: Style
    let keysOnly: Bool

    /// Appends the line for one item, with its newline.
    func append(key: [UInt8], value: [UInt8], to output: inout [UInt8]) {
        switch style {
        case .jsonl:
            output.append(contentsOf: #"{"key":""#.utf8)
            Codec.base64(key, into: &output)
            if !keysOnly {
                output.append(contentsOf: #"","value":""#.utf8)
                Codec.base64(value, into: &output)
            }
            output.append(contentsOf: "\"}\n".utf8)
        case .separated(let encoding):
            encoding.encode(key, into: &output)
            if !keysOnly {
                output.append(UInt8(ascii: "\t"))
                encoding.encode(value, into: &output)
            }
            output.append(UInt8(ascii: "\n"))
        }
    }
}

/// Decodes lines of input into items; errors carry the line number.
struct LineDecoder {
    let format: LineFormat
    let encoding: ByteEncoding

    private static let exportPrefix = Array(#"{"key":""#.utf8)
    private static let exportMiddle = Array(#"","value":""#.utf8)
    private static let exportSuffix = Array(#""}"#.utf8)

    /// The two base64 fields of a line exactly in the export format, or `nil`.
    static func exportLine(_ line: ArraySlice<UInt8>) -> (key: ArraySlice<UInt8>, value: ArraySlice<UInt8>)? {
        guard line.starts(with: exportPrefix),
            line.count >= exportPrefix.count + exportMiddle.count + exportSuffix.count,
            line[(line.endIndex - exportSuffix.count)...].elementsEqual(exportSuffix)
        else { return nil }
        let keyStart = line.startIndex + exportPrefix.count
        guard let keyEnd = line[keyStart...].firstIndex(of: UInt8(ascii: "\"")) else { return nil }
        let middleEnd = keyEnd + exportMiddle.count
        guard middleEnd <= line.endIndex - exportSuffix.count, line[keyEnd..<middleEnd].elementsEqual(exportMiddle)
        else { return nil }
        let valueEnd = line.endIndex - exportSuffix.count
        let value = line[middleEnd..<valueEnd]
        guard !value.contains(UInt8(ascii: "\"")), !value.contains(UInt8(ascii: "\\")) else { return nil }
        let key = line[keyStart..<keyEnd]
        guard !key.contains(UInt8(ascii: "\\")) else { return nil }
        return (key, value)
    }

    /// The key and value on a line, or `nil` for a blank line.
    func decode(
        _ line: ArraySlice<UInt8>, number: Int, source: String
    ) throws(ToolError) -> (key: [UInt8], value: [UInt8])? {
        if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return nil }
        func fail(_ what: String) -> ToolError {
            ToolError(.usage, "\(source), line \(number): \(what)")
        }
        let key: [UInt8]
        let value: [UInt8]
        switch format {
        case .jsonl:
            // The export format, {"key":"<base64>","value":"<base64>"}, without the general parser.
            if let fast = LineDecoder.exportLine(line) {
                do {
                    key = try Codec.unbase64(fast.key)
                    value = try Codec.unbase64(fast.value)
                } catch {
                    throw fail("\"key\" or \"value\" is not valid base64: \(error)")
                }
                break
            }
            let members: [(name: String, value: JSONLineParser.Value)]
            do { members = try JSONLineParser.parseObject(line) } catch { throw fail(error.description) }
            var fields: [String: [UInt8]] = [:]
            for (name, member) in members {
                guard ["key", "value", "key_utf8", "value_utf8"].contains(name) else {
                    throw fail(
                        "unknown member \"\(name)\" (expected \"key\" and \"value\" in base64,"
                            + " or \"key_utf8\"/\"value_utf8\" as text)")
                }
                guard fields[name] == nil else { throw fail("member \"\(name)\" appears twice") }
                guard case .string(let bytes) = member else {
                    if case .other(let kind) = member { throw fail("\"\(name)\" must be a string, not \(kind)") }
                    throw fail("\"\(name)\" must be a string")
                }
                fields[name] = bytes
            }
            func field(_ name: String) throws(ToolError) -> [UInt8] {
                let encoded = fields[name]
                let text = fields[name + "_utf8"]
                if encoded != nil && text != nil { throw fail("give \"\(name)\" or \"\(name)_utf8\", not both") }
                if let text { return text }
                guard let encoded else { throw fail("missing \"\(name)\"") }
                do { return try Codec.unbase64(encoded) } catch {
                    throw fail("\"\(name)\" is not valid base64: \(error)")
                }
            }
            key = try field("key")
            value = try field("value")
        case .tsv:
            guard let tab = line.firstIndex(of: UInt8(ascii: "\t")) else {
                throw fail("expected KEY<TAB>VALUE, found no tab")
            }
            let rest = line[(tab + 1)...]
            if rest.contains(UInt8(ascii: "\t")) {
                throw fail("expected one tab, found more (escape tabs in text as \\t)")
            }
            do { key = try encoding.decode(line[..<tab]) } catch {
                throw fail("the key is not valid \(encoding.rawValue): \(error)")
            }
            do { value = try encoding.decode(rest) } catch {
                throw fail("the value is not valid \(encoding.rawValue): \(error)")
            }
        }
        guard key.count <= Database.maxKeySize else {
            throw fail("the key is \(key.count) bytes; the limit is \(Database.maxKeySize)")
        }
        guard value.count <= Database.maxValueSize else {
            throw fail("the value is \(value.count) bytes; the limit is \(Database.maxValueSize)")
        }
        return (key, value)
    }
}
