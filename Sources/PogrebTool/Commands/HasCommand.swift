import ArgumentParser
import Glibc
import Pogreb

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
