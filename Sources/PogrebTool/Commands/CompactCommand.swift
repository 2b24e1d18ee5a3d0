import ArgumentParser
import Glibc
import Pogreb

struct Compact: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Rewrite the live records of mostly-dead segments and delete those segments.",
        discussion: "Only sealed segments with at least half their bytes dead (and 1 MiB) are rewritten.")

    @Argument(help: "The database directory.") var path: String

    func run() throws {
        let start = now()
        let (before, result, after) = try withDatabase(path, .write(create: false)) {
            (db) throws(ToolError) -> (Statistics, CompactionResult, Statistics) in
            let before = try engine { () throws(PogrebError) -> Statistics in try db.statistics }
            let result = try withTicker("compact") { () throws(ToolError) -> CompactionResult in
                try engine { () throws(PogrebError) -> CompactionResult in try db.compact() }
            }
            let after = try engine { () throws(PogrebError) -> Statistics in try db.statistics }
            return (before, result, after)
        }
        let seconds = now() - start
        if result.segmentsCompacted == 0 {
            Console.current.out.write(
                "nothing to compact: no sealed segment is at least half dead"
                    + " (log \(Format.bytes(before.logBytes)), dead \(Format.bytes(before.deadBytes)))\n")
        } else {
            Console.current.out.write(
                "compacted \(result.segmentsCompacted) segment\(result.segmentsCompacted == 1 ? "" : "s"),"
                    + " copied \(Format.grouped(result.recordsCopied)) records,"
                    + " reclaimed \(Format.bytes(result.bytesReclaimed));"
                    + " log \(Format.bytes(before.logBytes)) → \(Format.bytes(after.logBytes))"
                    + " in \(Format.duration(seconds))\n")
        }
    }
}
