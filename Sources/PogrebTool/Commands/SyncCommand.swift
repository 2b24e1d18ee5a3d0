import ArgumentParser
import Glibc
import Pogreb

struct SyncCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Write a checkpoint and make everything durable.",
        discussion: "Useful after a crash: the next open then has nothing to replay.")

    @Argument(help: "The database directory.") var path: String

    func run() throws {
        try withDatabase(path, .write(create: false)) { (db) throws(ToolError) in
            try engine { () throws(PogrebError) in
                try db.sync()
                try db.checkpoint()
            }
        }
    }
}
