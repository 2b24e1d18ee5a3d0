import ArgumentParser
import Glibc
import Pogreb

struct Backup: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy the database, index included, to a new directory.",
        discussion: "The copy opens with nothing to replay. The destination must not exist or be empty.")

    @Argument(help: "The database directory.") var path: String
    @Argument(help: "The new directory for the copy.") var destination: String

    func run() throws {
        let start = now()
        try withDatabase(path, .write(create: false)) { (db) throws(ToolError) in
            try withTicker("backup") { () throws(ToolError) in
                try engine("backup to \(destination)") { () throws(PogrebError) in try db.backup(to: destination) }
            }
        }
        let size = Files.totalSize(destination)
        Console.current.out.write(
            "backed up \(path) to \(destination): \(Format.bytes(size.apparent))"
                + " in \(Format.duration(now() - start))\n")
    }
}
