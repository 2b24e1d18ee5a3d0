import ArgumentParser
import Glibc
import Pogreb

struct Repair: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Rebuild the index from the log and cut a torn tail.",
        discussion: """
            Keeps every record that checks out; only a damaged tail is cut and the index files \
            are rebuilt. Because it rewrites files, it runs only with --yes (in place) or \
            --copy-to DIR (the database is copied to the new directory DIR and the copy repaired, \
            leaving the original untouched).
            """)

    @Argument(help: "The database directory.") var path: String
    @Flag(help: "Repair in place.") var yes = false
    @Option(help: "Copy the database to this new directory and repair the copy.") var copyTo: String?

    func validate() throws {
        if yes == (copyTo != nil) {
            throw ValidationError(
                "repair rewrites files: pass --yes to repair in place, or --copy-to DIR to repair a copy"
                    + " (one of the two)")
        }
    }

    func run() throws {
        guard Files.exists(path) else {
            throw ToolError(.usage, "no database at \(path): the directory does not exist")
        }
        guard Files.isDirectory(path) else {
            throw ToolError(.corrupted, "\(path) is not a database: a database is a directory, and this is a file")
        }
        guard !Files.isEmptyDirectory(path) else {
            throw ToolError(.usage, "no database at \(path): the directory is empty")
        }
        var target = path
        if let copyTo {
            guard !Files.exists(copyTo) else {
                throw ToolError(.usage, "\(copyTo) exists; --copy-to needs a new directory")
            }
            guard mkdir(copyTo, 0o755) == 0 else {
                throw ToolError(.io, "cannot create \(copyTo): \(describeErrno(errno))")
            }
            do {
                for entry in try Files.list(path) where entry.isRegularFile && entry.name != "pogreb.lock" {
                    try Files.copyFile(from: path + "/" + entry.name, to: copyTo + "/" + entry.name)
                }
            } catch {
                Files.removeTree(copyTo)
                throw error
            }
            target = copyTo
        }
        let report: RepairReport
        do {
            report = try withTicker("repair") { () throws(ToolError) -> RepairReport in
                try engine { () throws(PogrebError) -> RepairReport in try Database.repair(at: target) }
            }
        } catch {
            // A refused repair of a copy leaves no copy behind: the copy is ours, the original untouched.
            if copyTo != nil { Files.removeTree(target) }
            throw error
        }
        Console.current.out.write("repaired \(target): \(report.description)\n")
    }
}
