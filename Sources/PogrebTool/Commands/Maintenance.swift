import ArgumentParser
import Glibc
import Pogreb

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Verify every header, every record checksum, and that the index and the log agree.",
        discussion: """
            Opens the database read-only (nothing is changed, a torn tail is reported, not cut) \
            and reads all of it. Exits 0 when clean; otherwise prints one line per problem \
            (file, offset, what) and exits 3. `pogreb repair` fixes what can be fixed.
            """)

    @Argument(help: "The database directory.") var path: String
    @Flag(help: "Print one JSON object instead of text.") var json = false

    func run() throws {
        let start = now()
        var problems: [(file: String, offset: Int64?, what: String)] = []
        var records = 0
        var keys = 0
        do throws(ToolError) {
            try withDatabase(path, .read) { (db) throws(ToolError) in
                let statistics = try engine { () throws(PogrebError) -> Statistics in try db.statistics }
                keys = statistics.keyCount
                for tail in statistics.tornTails {
                    // "FILE: cut at offset …": a record cut short at the end of the log (a crash
                    // during a write); this read-only open skips it, a writable open cuts it.
                    if let colon = tail.firstRange(of: ": ") {
                        problems.append((file: String(tail[..<colon.lowerBound]), offset: nil, what: "torn tail (a writable open cuts it): " + tail[colon.upperBound...]))
                    } else {
                        problems.append((file: path, offset: nil, what: "torn tail (a writable open cuts it): " + tail))
                    }
                }
                let progress = Progress("check", total: statistics.logBytes, unit: .bytes)
                let report = try engine { () throws(PogrebError) -> VerificationReport in
                    try db.verify { done, _ in progress.update(done) }
                }
                progress.finish()
                records = report.recordsChecked
                problems += report.problems.map { (file: $0.file, offset: $0.offset, what: $0.what) }
            }
        } catch {
            // The open itself found the damage.
            guard error.status == .corrupted else { throw error }
            problems.append((file: path, offset: nil, what: error.message))
        }
        let seconds = now() - start
        if json {
            var object = JSONObject()
            object.set("path", path)
            object.set("clean", problems.isEmpty)
            object.set("recordsChecked", records)
            object.set("keys", keys)
            object.set("seconds", seconds)
            object.set("problems", problems.map { p in
                var o = JSONObject()
                o.set("file", p.file)
                if let offset = p.offset { o.set("offset", offset) } else { o.setNull("offset") }
                o.set("what", p.what)
                return o
            })
            Console.current.out.write(object.text + "\n")
        } else if problems.isEmpty {
            Console.current.out.write("ok: \(Format.grouped(records)) records checked, \(Format.grouped(keys)) keys, index and log agree (\(Format.duration(seconds)))\n")
        } else {
            var text = "\(problems.count) problem\(problems.count == 1 ? "" : "s") found (\(Format.grouped(records)) records checked):\n"
            for p in problems {
                text += "  " + p.file + (p.offset.map { " at offset \($0)" } ?? "") + ": " + p.what + "\n"
            }
            text += "Run `pogreb repair \(path) --copy-to <new directory>` to rebuild a copy, or `--yes` to repair in place.\n"
            Console.current.out.write(text)
        }
        if !problems.isEmpty { throw ToolError(.corrupted, "", silent: true) }
    }
}

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
            throw ValidationError("repair rewrites files: pass --yes to repair in place, or --copy-to DIR to repair a copy (one of the two)")
        }
    }

    func run() throws {
        guard Files.isDirectory(path) else { throw ToolError(.usage, "no database at \(path): the directory does not exist") }
        var target = path
        if let copyTo {
            guard !Files.exists(copyTo) else { throw ToolError(.usage, "\(copyTo) exists; --copy-to needs a new directory") }
            guard mkdir(copyTo, 0o755) == 0 else { throw ToolError(.io, "cannot create \(copyTo): \(describeErrno(errno))") }
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
        let report = try withTicker("repair") { () throws(ToolError) -> RepairReport in
            try engine { () throws(PogrebError) -> RepairReport in try Database.repair(at: target) }
        }
        Console.current.out.write("repaired \(target): \(report.description)\n")
    }
}

struct Compact: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Rewrite the live records of mostly-dead segments and delete those segments.",
        discussion: "Only sealed segments with at least half their bytes dead (and 1 MiB) are rewritten.")

    @Argument(help: "The database directory.") var path: String

    func run() throws {
        let start = now()
        let (before, result, after) = try withDatabase(path, .write(create: false)) { (db) throws(ToolError) -> (Statistics, CompactionResult, Statistics) in
            let before = try engine { () throws(PogrebError) -> Statistics in try db.statistics }
            let result = try withTicker("compact") { () throws(ToolError) -> CompactionResult in
                try engine { () throws(PogrebError) -> CompactionResult in try db.compact() }
            }
            let after = try engine { () throws(PogrebError) -> Statistics in try db.statistics }
            return (before, result, after)
        }
        let seconds = now() - start
        if result.segmentsCompacted == 0 {
            Console.current.out.write("nothing to compact: no sealed segment is at least half dead (log \(Format.bytes(before.logBytes)), dead \(Format.bytes(before.deadBytes)))\n")
        } else {
            Console.current.out.write("compacted \(result.segmentsCompacted) segment\(result.segmentsCompacted == 1 ? "" : "s"), copied \(Format.grouped(result.recordsCopied)) records, reclaimed \(Format.bytes(result.bytesReclaimed)); log \(Format.bytes(before.logBytes)) → \(Format.bytes(after.logBytes)) in \(Format.duration(seconds))\n")
        }
    }
}

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
        Console.current.out.write("backed up \(path) to \(destination): \(Format.bytes(size.apparent)) in \(Format.duration(now() - start))\n")
    }
}

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
