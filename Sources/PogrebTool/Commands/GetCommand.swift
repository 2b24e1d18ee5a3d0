import ArgumentParser
import Glibc
import Pogreb

/// How `get` prints a value.
enum ValueOutput: String, ExpressibleByArgument, CaseIterable, Sendable {
    case raw, text, hex, base64
}

struct Get: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the value of a key.",
        discussion: """
            By default writes the value's bytes exactly as stored (plus a newline when standard \
            output is a terminal), so `pogreb get DB KEY > file` extracts a binary value. \
            --output text escapes control bytes and invalid UTF-8 (\\n, \\t, \\xHH); hex and base64 \
            encode the value; these end with a newline. --hex/--base64 give the key encoded. \
            Exits with status 1 when the key is absent.
            """)

    @Argument(help: "The database directory.") var path: String
    @Argument(help: "The key.") var key: String
    @Flag var encoding: InputEncoding = .text
    @Option(name: .shortAndLong, help: "How to print the value: raw, text, hex or base64.")
    var output: ValueOutput = .raw

    func run() throws {
        let key = try encoding.decode(self.key, what: "key")
        try checkKey(key)
        let value = try withDatabase(path, .read) { (db) throws(ToolError) -> [UInt8]? in
            try engine { () throws(PogrebError) in try db.get(key) }
        }
        guard let value else { throw ToolError(.notFound, "key not found") }
        let out = Console.current.out
        switch output {
        case .raw:
            out.write(value)
            if Console.current.stdoutIsTerminal { out.write("\n") }
        case .text: out.write(ByteEncoding.text.encode(value) + "\n")
        case .hex: out.write(ByteEncoding.hex.encode(value) + "\n")
        case .base64: out.write(ByteEncoding.base64.encode(value) + "\n")
        }
    }
}
