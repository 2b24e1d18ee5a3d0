import ArgumentParser
import Glibc
import Pogreb

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
