import ArgumentParser
import Glibc
import Pogreb

struct Backup: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy the database, index included, to a new directory.",
        discussion: """
            The copy opens with nothing to replay. It is written beside the destination \
            (DESTINATION.backup-<random>) and renamed into place once complete, so a destination that \
            opens is a finished backup; an interrupted one leaves only that staging directory, \
            which may be deleted. The destination must not exist or be empty, unless --replace is \
            given and it holds a database (an earlier backup), which is then replaced atomically; \
            the destination may not lie inside the database.
            """)

    @Argument(help: "The database directory.") var path: String
    @Argument(help: "The new directory for the copy.") var destination: String
    @Flag(help: "Replace a database (an earlier backup) at the destination atomically.") var replace = false

    func run() throws {
        let start = now()
        try withDatabase(path, .write(create: false)) { (db) throws(ToolError) in
            try withTicker("backup") { () throws(ToolError) in
                let report = try engine("backup to \(destination)") { () throws(PogrebError) -> BackupReport in
                    try db.backup(to: destination, replacing: replace)
                }
                if let old = report.oldDatabaseLeftAt {
                    Console.current.note(
                        "the replaced backup was left at \(old): a reader still had it open, or it holds something "
                            + "that is not ours; delete it once no reader uses it")
                }
            }
        }
        let size = Files.totalSize(destination)
        Console.current.out.write(
            "backed up \(path) to \(destination): \(Format.bytes(size.apparent))"
                + " in \(Format.duration(now() - start))\n")
    }
}
