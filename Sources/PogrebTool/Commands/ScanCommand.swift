import ArgumentParser
import Glibc
import Pogreb

/// The output formats of `scan`.
enum ScanFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case text, hex, base64, jsonl

    var style: LineEncoder.Style {
        switch self {
        case .text: return .separated(.text)
        case .hex: return .separated(.hex)
        case .base64: return .separated(.base64)
        case .jsonl: return .jsonl
        }
    }
}

struct Scan: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the items (or keys) of a database.",
        discussion: """
            Items come in log order (roughly the order they were written). --prefix filters while \
            streaming; --limit stops after that many matches. Formats: text (KEY<TAB>VALUE, with \
            tabs, newlines, backslashes, control bytes and invalid UTF-8 escaped as \\t \\n \\\\ \\xHH), \
            hex, base64, or jsonl ({"key":"<base64>","value":"<base64>"}).
            """)

    @Argument(help: "The database directory.") var path: String
    @Option(help: "Only keys that start with these bytes (in the --text/--hex/--base64 encoding).") var prefix: String?
    @Flag var encoding: InputEncoding = .text
    @Option(help: "Stop after this many items.") var limit: Int?
    @Flag(help: "Print keys only.") var keysOnly = false
    @Option(help: "Output format: text, hex, base64 or jsonl.") var format: ScanFormat = .text

    func validate() throws {
        if let limit, limit < 0 { throw ValidationError("--limit must be 0 or more") }
    }

    func run() throws {
        let prefix = try self.prefix.map { (p) throws(ToolError) in try encoding.decode(p, what: "prefix") }
        let out = Console.current.out
        let encoder = LineEncoder(style: format.style, keysOnly: keysOnly)
        try withDatabase(path, .read) { (db) throws(ToolError) in
            var line: [UInt8] = []
            _ = try walkItems(
                db, keysOnly: keysOnly, prefix: prefix, limit: limit, output: out, progress: nil
            ) { key, value in
                line.removeAll(keepingCapacity: true)
                encoder.append(key: key, value: value, to: &line)
                out.write(line)
            }
            try out.flush()
        }
    }
}
