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
                        problems.append(
                            (
                                file: String(tail[..<colon.lowerBound]), offset: nil,
                                what: "torn tail (a writable open cuts it): " + tail[colon.upperBound...]
                            ))
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
            object.set(
                "problems",
                problems.map { p in
                    var o = JSONObject()
                    o.set("file", p.file)
                    if let offset = p.offset { o.set("offset", offset) } else { o.setNull("offset") }
                    o.set("what", p.what)
                    return o
                })
            Console.current.out.write(object.text + "\n")
        } else if problems.isEmpty {
            Console.current.out.write(
                "ok: \(Format.grouped(records)) records checked, \(Format.grouped(keys)) keys,"
                    + " index and log agree (\(Format.duration(seconds)))\n")
        } else {
            var text =
                "\(problems.count) problem\(problems.count == 1 ? "" : "s") found"
                + " (\(Format.grouped(records)) records checked):\n"
            for p in problems {
                text += "  " + p.file + (p.offset.map { " at offset \($0)" } ?? "") + ": " + p.what + "\n"
            }
            text +=
                "Run `pogreb repair \(path) --copy-to <new directory>` to rebuild a copy,"
                + " or `--yes` to repair in place.\n"
            Console.current.out.write(text)
        }
        if !problems.isEmpty { throw ToolError(.corrupted, "", silent: true) }
    }
}
