import ArgumentParser
import Glibc
import Pogreb

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
        if value != nil && file != nil {
            throw ValidationError("give the value as an argument or with --file, not both")
        }
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
