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
    @Option(name: .shortAndLong, help: "How to print the value: raw, text, hex or base64.") var output: ValueOutput = .raw

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

struct Put: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Store a value for a key (creating the database if needed).",
        discussion: """
            The value is the VALUE argument, the contents of --file, or standard input when \
            neither is given. Values from a file or standard input are taken byte for byte. The \
            write is durable when the command returns (the database is closed, which syncs).
            """)

    @Argument(help: "The database directory; created when it does not exist.") var path: String
    @Argument(help: "The key.") var key: String
    @Argument(help: "The value; omit it to use --file or standard input.") var value: String?
    @Option(name: .shortAndLong, help: "Read the value from this file.") var file: String?
    @Flag var encoding: InputEncoding = .text

    func validate() throws {
        if value != nil && file != nil { throw ValidationError("give the value as an argument or with --file, not both") }
    }

    func run() throws {
        let key = try encoding.decode(self.key, what: "key")
        try checkKey(key)
        let value: [UInt8]
        if let text = self.value {
            value = try encoding.decode(text, what: "value")
        } else if let file {
            value = try readFile(file)
        } else {
            guard !Console.current.stdinIsTerminal else {
                throw ToolError(.usage, "no value: give VALUE, --file PATH, or pipe the value on standard input")
            }
            value = try Console.current.readAllInput()
        }
        try checkValue(value)
        let created = !Files.exists(path)
        let existed = try withDatabase(path, .write(create: true)) { (db) throws(ToolError) -> Bool in
            try engine { () throws(PogrebError) -> Bool in
                let existed = try db.contains(key)
                try db.put(key, value)
                return existed
            }
        }
        if created && Console.current.stderrIsTerminal { Console.current.note("created a new database at \(path)") }
        if Console.current.stdoutIsTerminal {
            Console.current.out.write((existed ? "replaced" : "stored") + " \(value.count) bytes\n")
        }
    }
}

struct Delete: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Delete a key.",
        discussion: "Exits with status 1 when the key was absent (nothing is written then).")

    @Argument(help: "The database directory.") var path: String
    @Argument(help: "The key.") var key: String
    @Flag var encoding: InputEncoding = .text

    func run() throws {
        let key = try encoding.decode(self.key, what: "key")
        try checkKey(key)
        let existed = try withDatabase(path, .write(create: false)) { (db) throws(ToolError) -> Bool in
            try engine { () throws(PogrebError) -> Bool in try db.delete(key) }
        }
        guard existed else { throw ToolError(.notFound, "key not found") }
    }
}

struct Has: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Tell whether a key is present.",
        discussion: "Prints `yes` and exits 0 when present; prints `no` and exits 1 when absent.")

    @Argument(help: "The database directory.") var path: String
    @Argument(help: "The key.") var key: String
    @Flag var encoding: InputEncoding = .text
    @Flag(name: .shortAndLong, help: "Print nothing; only the exit status answers.") var quiet = false

    func run() throws {
        let key = try encoding.decode(self.key, what: "key")
        try checkKey(key)
        let present = try withDatabase(path, .read) { (db) throws(ToolError) -> Bool in
            try engine { () throws(PogrebError) -> Bool in try db.contains(key) }
        }
        if !quiet { Console.current.out.write(present ? "yes\n" : "no\n") }
        if !present { throw ToolError(.notFound, "", silent: true) }
    }
}
