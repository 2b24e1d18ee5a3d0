import Glibc
import Pogreb
import Testing

@testable import PogrebTool

@Suite("pogreb commands")
struct CommandTests {
    // MARK: Help and exit codes

    @Test("--help documents every exit code, in-process and in the binary")
    func helpListsExitCodes() throws {
        let inProcess = runInProcess(["--help"])
        #expect(inProcess.status == 0)
        let binary = try runBinary(["--help"])
        #expect(binary.status == 0)
        for result in [inProcess, binary] {
            for status in ExitStatus.allCases {
                #expect(result.text.contains(status.helpLine), "missing \(status.helpLine) in\n\(result.text)")
            }
            for command in [
                "get", "put", "delete", "has", "scan", "import", "export", "stats", "check", "repair", "compact",
                "backup", "sync", "bench",
            ] {
                #expect(result.text.contains("  \(command) "), "missing subcommand \(command)")
            }
            #expect(!result.text.contains("_kill-writer"))
            #expect(!result.text.contains("_bench-child"))
        }
    }

    @Test("usage errors exit 2")
    func usageErrors() throws {
        #expect(runInProcess(["frobnicate"]).status == 2)
        #expect(runInProcess(["get"]).status == 2)
        #expect(runInProcess(["scan", "/nonexistent", "--limit", "-3"]).status == 2)
        #expect(runInProcess(["repair", "/nonexistent"]).status == 2)
        #expect(runInProcess(["bench", "--workloads", "W1,W42"]).status == 2)
        let binary = try runBinary(["get", "--hex", "/nonexistent", "zz"])
        #expect(binary.status == 2)
        #expect(binary.error.contains("not valid hex"), "\(binary)")
        let missing = runInProcess(["get", "/nonexistent/pogreb-db", "k"])
        #expect(missing.status == 2)
        #expect(missing.error.contains("does not exist"))
    }

    @Test("put, get, has, delete and their exit codes")
    func keyValueCommands() throws {
        let dir = try TemporaryDirectory("kv")
        let db = dir.child("db")
        #expect(runInProcess(["put", db, "hello", "world"]).status == 0)
        let got = runInProcess(["get", db, "hello"])
        #expect(got.status == 0)
        #expect(got.output == Array("world".utf8))  // exact bytes, no newline when not a terminal
        #expect(runInProcess(["get", db, "absent"]).status == 1)
        #expect(runInProcess(["has", db, "hello"]).text == "yes\n")
        let absent = runInProcess(["has", db, "absent"])
        #expect(absent.status == 1)
        #expect(absent.text == "no\n")

        // Values from standard input and from a file are taken byte for byte.
        let binary: [UInt8] = [0, 1, 2, 0xFF, 10, 13, 9]
        #expect(runInProcess(["put", db, "bin"], input: binary).status == 0)
        #expect(runInProcess(["get", db, "bin"]).output == binary)
        #expect(runInProcess(["get", db, "bin", "--output", "hex"]).text == "000102ff0a0d09\n")
        #expect(runInProcess(["get", db, "bin", "-o", "text"]).text == "\\x00\\x01\\x02\\xff\\n\\r\\t\n")
        let file = dir.child("value.bin")
        try writeBytes(binary + binary, to: file)
        #expect(runInProcess(["put", db, "--hex", "00ff", "--file", file]).status == 0)
        #expect(runInProcess(["get", db, "--base64", "AP8="]).output == binary + binary)

        // Invalid encodings are usage errors and write nothing.
        let bad = runInProcess(["put", db, "--base64", "a", "b"])
        #expect(bad.status == 2)
        #expect(bad.error.contains("base64"))

        #expect(runInProcess(["delete", db, "hello"]).status == 0)
        #expect(runInProcess(["delete", db, "hello"]).status == 1)
        #expect(runInProcess(["get", db, "hello"]).status == 1)

        // A key over the limit is refused before anything is opened.
        let long = String(repeating: "k", count: Database.maxKeySize + 1)
        #expect(runInProcess(["put", db, long, "v"]).status == 2)
    }

    @Test("a database locked by a writer: exit 4, in-process and as a binary")
    func lockedDatabase() throws {
        let dir = try TemporaryDirectory("lock")
        let path = dir.child("db")
        #expect(runInProcess(["put", path, "k", "v"]).status == 0)
        let holder = try Database.open(at: path)
        defer { try? holder.close() }
        let inProcess = runInProcess(["put", path, "k", "v2"])
        #expect(inProcess.status == 4, "\(inProcess)")
        let binary = try runBinary(["get", path, "k"])
        #expect(binary.status == 4, "\(binary)")
        #expect(!binary.error.isEmpty)
    }

    @Test("a database held by readers: a writing command exits 4 and says readers hold it")
    func databaseHeldByReaders() throws {
        let dir = try TemporaryDirectory("readers")
        let path = dir.child("db")
        #expect(runInProcess(["put", path, "k", "v"]).status == 0)
        var options = Options()
        options.readOnly = true
        let reader = try Database.open(at: path, options: options)
        defer { try? reader.close() }
        let result = runInProcess(["put", path, "k", "v2"])
        #expect(result.status == 4, "\(result)")
        #expect(result.error.contains("open read-only"), "\(result)")
        #expect(!result.error.contains("one writer at a time"), "\(result)")
        #expect(runInProcess(["get", path, "k"]).status == 0, "readers share the directory")
    }

    @Test("not a database: exit 3")
    func notADatabase() throws {
        let dir = try TemporaryDirectory("nodb")
        try writeBytes(Array("not ours".utf8), to: dir.child("stranger.txt"))
        let result = runInProcess(["get", dir.path, "k"])
        #expect(result.status == 3, "\(result)")
        #expect(result.error.contains("stranger.txt"))
        try writeBytes(Array("a file".utf8), to: dir.child("plain"))
        #expect(runInProcess(["stats", dir.child("plain")]).status == 3)
    }

    // MARK: Scan, import, export

    @Test("scan: prefix, limit, keys only and formats")
    func scan() throws {
        let dir = try TemporaryDirectory("scan")
        let db = dir.child("db")
        let input = Array(
            "{\"key_utf8\":\"a1\",\"value_utf8\":\"x\"}\n{\"key_utf8\":\"b1\",\"value_utf8\":\"y\\tz\"}\n{\"key_utf8\":\"a2\",\"value_utf8\":\"w\"}\n"
                .utf8)
        #expect(runInProcess(["import", db], input: input).status == 0)
        #expect(runInProcess(["scan", db]).text == "a1\tx\nb1\ty\\tz\na2\tw\n")
        #expect(runInProcess(["scan", db, "--prefix", "a"]).text == "a1\tx\na2\tw\n")
        #expect(runInProcess(["scan", db, "--prefix", "a", "--limit", "1", "--keys-only"]).text == "a1\n")
        #expect(runInProcess(["scan", db, "--prefix", "62", "--hex", "--format", "hex"]).text == "6231\t79097a\n")
        #expect(
            runInProcess(["scan", db, "--limit", "1", "--format", "jsonl"]).text
                == "{\"key\":\"YTE=\",\"value\":\"eA==\"}\n")
        #expect(runInProcess(["scan", db, "--limit", "0"]).text == "")
    }

    @Test("JSON Lines: import → export → import → export is byte-identical", arguments: [false, true])
    func roundTripJSONLines(asBinary: Bool) throws {
        let dir = try TemporaryDirectory("jsonl")
        let input = dir.child("input.jsonl")
        try writeBytes(sampleJSONLines(count: 25_000), to: input)
        let run: ([String]) throws -> CommandResult = asBinary ? { try runBinary($0) } : { runInProcess($0) }
        #expect(try run(["import", dir.child("a"), input, "--batch-size", "4000"]).status == 0)
        #expect(try run(["export", dir.child("a"), "--output", dir.child("a.jsonl")]).status == 0)
        #expect(try run(["import", dir.child("b"), dir.child("a.jsonl")]).status == 0)
        #expect(try run(["export", dir.child("b"), "-o", dir.child("b.jsonl")]).status == 0)
        let first = try readBytes(dir.child("a.jsonl"))
        let second = try readBytes(dir.child("b.jsonl"))
        #expect(first.count > 1_000_000)
        #expect(first == second)
        #expect(first == (try readBytes(input)))  // keys are unique, so the export is the input
        // Standard output gives the same bytes as --output.
        #expect(try run(["export", dir.child("b")]).output == first)
    }

    @Test(
        "TSV: import → export → import → export is byte-identical, in each field encoding",
        arguments: ["base64", "hex", "text"])
    func roundTripTSV(encoding: String) throws {
        let dir = try TemporaryDirectory("tsv")
        let input = dir.child("input.jsonl")
        try writeBytes(sampleJSONLines(count: 5_000, seed: 9), to: input)
        #expect(runInProcess(["import", dir.child("a"), input]).status == 0)
        let first = runInProcess(["export", dir.child("a"), "--format", "tsv", "--encoding", encoding])
        #expect(first.status == 0)
        #expect(
            runInProcess(["import", dir.child("b"), "--format", "tsv", "--encoding", encoding], input: first.output)
                .status == 0)
        let second = runInProcess(["export", dir.child("b"), "--format", "tsv", "--encoding", encoding])
        #expect(first.output == second.output)
        #expect(first.output.filter { $0 == 10 }.count == 5_000)
        // And back to the JSON Lines it came from.
        #expect(runInProcess(["export", dir.child("b")]).output == (try readBytes(input)))
    }

    @Test("import --replace builds a new database and puts it in place of the old one")
    func importReplace() throws {
        let dir = try TemporaryDirectory("replace")
        let db = dir.child("db")
        #expect(runInProcess(["import", db], input: sampleJSONLines(count: 3_000, seed: 1)).status == 0)
        let fresh = sampleJSONLines(count: 2_000, seed: 2)
        let result = runInProcess(["import", db, "--replace"], input: fresh)
        #expect(result.status == 0, "\(result)")
        #expect(runInProcess(["export", db]).output == fresh)
        #expect(runInProcess(["check", db]).status == 0)
        #expect(try Files.list(dir.path).map(\.name) == ["db"])  // no staging directory left
        // A bad line: nothing changes.
        let bad = runInProcess(["import", db, "--replace"], input: Array("{\"key\":\"YQ==\",\"value\":\"!\"}\n".utf8))
        #expect(bad.status == 2)
        #expect(runInProcess(["export", db]).output == fresh)
        #expect(runInProcess(["import", db, "--replace", "--no-validate"], input: fresh).status == 2)
    }

    @Test("import --replace says where it left an old database that a reader still holds")
    func importReplaceReportsTheOldDatabaseLeftForAReader() throws {
        let dir = try TemporaryDirectory("leftbehind")
        let db = dir.child("db")
        #expect(runInProcess(["import", db], input: sampleJSONLines(count: 100, seed: 1)).status == 0)
        var readOnly = Options()
        readOnly.readOnly = true
        let reader = try Database.open(at: db, options: readOnly)
        defer { try? reader.close() }
        let fresh = sampleJSONLines(count: 50, seed: 2)
        let result = runInProcess(["import", db, "--replace"], input: fresh)
        #expect(result.status == 0, "\(result)")
        #expect(runInProcess(["export", db]).output == fresh)
        let left = try Files.list(dir.path).map(\.name).filter { $0 != "db" }
        #expect(left.count == 1 && left.allSatisfy { $0.hasPrefix("db.building-") }, "\(left)")
        #expect(left.allSatisfy { result.error.contains($0) }, "the left-behind database is named: \(result.error)")
    }

    @Test("an abandoned import --replace removes its own staging directory and no other")
    func abandonedImportReplaceRemovesOnlyItsOwnStagingDirectory() throws {
        let dir = try TemporaryDirectory("abandon")
        let db = dir.child("db")
        let input = dir.child("input.jsonl")
        try writeBytes(sampleJSONLines(count: 60_000, seed: 3), to: input)
        let child = try ChildProcess(executable: try pogrebBinary(), arguments: ["import", db, input, "--replace"])
        // Once this build's staging directory exists, another build's appears beside it, and
        // then Ctrl-C abandons this one.
        var own: String?
        let deadline = now() + 60
        while own == nil && now() < deadline {
            own = try Files.list(dir.path).map(\.name).first { $0.hasPrefix("db.building-") }
            if own == nil { usleep(1_000) }
        }
        let other = db + ".building-0123456789ab"
        #expect(mkdir(other, 0o755) == 0)
        let marker = open(other + "/segment-0000000000000001.pgl", O_WRONLY | O_CREAT, 0o644)
        close(marker)
        child.kill(SIGINT)
        let status = child.wait()
        #expect(own != nil, "the build's staging directory appeared")
        #expect(ChildProcess.exitCode(status) == 130, "the build was abandoned (status \(status))")
        #expect(try Files.list(dir.path).map(\.name).sorted() == ["db.building-0123456789ab", "input.jsonl"])
        #expect(try Files.list(other).map(\.name) == ["segment-0000000000000001.pgl"])
    }

    @Test("bad import lines are reported with their line number and nothing is written")
    func importErrors() throws {
        let dir = try TemporaryDirectory("badimport")
        let db = dir.child("db")
        let cases: [(String, [String], String)] = [
            ("{\"key\":\"YQ==\",\"value\":\"Yg==\"}\n{\"key\":\"YQ==\" \"value\":\"Yg==\"}\n", [], "line 2"),
            ("{\"key\":\"YQ==\",\"value\":\"Yg==\"}\n\n{\"key\":\"YQ=\",\"value\":\"Yg==\"}\n", [], "line 3"),
            ("{\"key\":\"YQ==\"}\n", [], "missing \"value\""),
            ("{\"key\":\"YQ==\",\"value\":7}\n", [], "must be a string"),
            ("{\"key\":\"YQ==\",\"value\":\"Yg==\",\"extra\":\"\"}\n", [], "unknown member"),
            ("a\tb\nno tab here\n", ["--format", "tsv", "--encoding", "text"], "line 2"),
            ("YQ==\tYg==\nYQ==\tnot base64!\n", ["--format", "tsv"], "line 2"),
            ("6161\tzz\n", ["--format", "tsv", "--encoding", "hex"], "line 1"),
        ]
        for (input, options, expected) in cases {
            let result = runInProcess(["import", db] + options, input: Array(input.utf8))
            #expect(result.status == 2, "\(input): \(result)")
            #expect(result.error.contains(expected), "\(input): \(result.error)")
            #expect(result.error.contains("Nothing was imported"))
            #expect(!Files.exists(db), "the database was created by a failed import")
        }
        // Without the checking pass, the batches before the bad line stay, and nothing after.
        var lines = ""
        for i in 0..<25 { lines += "{\"key_utf8\":\"k\(i)\",\"value_utf8\":\"v\"}\n" }
        lines += "garbage\n{\"key_utf8\":\"late\",\"value_utf8\":\"v\"}\n"
        let partial = runInProcess(["import", db, "--no-validate", "--batch-size", "10"], input: Array(lines.utf8))
        #expect(partial.status == 2)
        #expect(partial.error.contains("line 26"))
        #expect(partial.error.contains("20 items from lines 1–20"), "\(partial.error)")
        #expect(runInProcess(["scan", db, "--keys-only"]).text.split(separator: "\n").count == 20)
        #expect(runInProcess(["get", db, "late"]).status == 1)
    }

    // MARK: Stats, check, repair, compact, backup, sync

    @Test("stats as a table and as JSON")
    func stats() throws {
        let dir = try TemporaryDirectory("stats")
        let db = dir.child("db")
        #expect(runInProcess(["import", db], input: sampleJSONLines(count: 500)).status == 0)
        let table = runInProcess(["stats", db])
        #expect(table.status == 0)
        for word in [
            "keys", "500", "segment-0000000000000001.pgl", "last checkpoint", "format", "version 2", "index", "load",
        ] {
            #expect(table.text.contains(word), "missing \(word) in\n\(table.text)")
        }
        let json = runInProcess(["stats", db, "--json"])
        #expect(json.status == 0)
        #expect(json.text.hasPrefix("{\"path\":"))
        #expect(json.text.contains("\"keys\":500"))
        #expect(json.text.contains("\"segments\":[{\"name\":\"segment-0000000000000001.pgl\""))
    }

    @Test("check: clean database exits 0")
    func checkClean() throws {
        let dir = try TemporaryDirectory("clean")
        let db = dir.child("db")
        #expect(runInProcess(["import", db], input: sampleJSONLines(count: 2_000)).status == 0)
        let result = runInProcess(["check", db])
        #expect(result.status == 0, "\(result)")
        #expect(result.text.hasPrefix("ok:"))
        let json = runInProcess(["check", db, "--json"])
        #expect(json.text.contains("\"clean\":true"))
    }

    @Test("check finds a flipped bit in a segment: file, offset, exit 3")
    func checkFindsBitFlip() throws {
        let dir = try TemporaryDirectory("flip")
        let db = dir.child("db")
        #expect(runInProcess(["import", db], input: sampleJSONLines(count: 2_000)).status == 0)
        let segment = try #require(try segmentFiles(db).first)
        let offset = fileLength(segment) / 2
        try flipBit(segment, at: offset)
        let inProcess = runInProcess(["check", db])
        #expect(inProcess.status == 3, "\(inProcess)")
        #expect(inProcess.text.contains(baseName(segment)), "\(inProcess.text)")
        #expect(inProcess.text.contains("offset"))
        let binary = try runBinary(["check", db, "--json"])
        #expect(binary.status == 3)
        #expect(binary.text.contains("\"clean\":false"))
        // The damaged record's offset is reported: it starts at or before the flipped byte.
        let reported = binary.text.split(separator: "\"offset\":").dropFirst().compactMap {
            Int64($0.prefix { $0.isNumber })
        }
        #expect(reported.contains { $0 <= offset && offset - $0 < 1024 }, "\(binary.text)")
    }

    @Test("check finds a truncated tail within the checkpointed log, exit 3; repair on a copy fixes it")
    func checkFindsTruncation() throws {
        let dir = try TemporaryDirectory("trunc")
        let db = dir.child("db")
        #expect(runInProcess(["import", db], input: sampleJSONLines(count: 3_000)).status == 0)
        let segment = try #require(try segmentFiles(db).last)
        #expect(truncate(segment, off_t(fileLength(segment) - 9)) == 0)
        let result = try runBinary(["check", db])
        #expect(result.status == 3, "\(result)")
        #expect(result.text.contains(baseName(segment)))
        #expect(runInProcess(["repair", db]).status == 2)  // neither --yes nor --copy-to
        let copy = dir.child("repaired")
        let repaired = runInProcess(["repair", db, "--copy-to", copy])
        #expect(repaired.status == 0, "\(repaired)")
        #expect(runInProcess(["check", copy]).status == 0)
        #expect(runInProcess(["check", db]).status == 3)  // the original is untouched
    }

    @Test("check finds a torn tail left by a crash (records after the checkpoint), exit 3")
    func checkFindsTornTail() throws {
        let dir = try TemporaryDirectory("torn")
        let db = dir.child("db")
        let child = try ChildProcess(
            executable: try pogrebBinary(), arguments: ["_bench-child", "load", "--path", db, "--count", "3000"])
        #expect(child.readLine(timeout: 120) == "synced")
        child.kill(SIGKILL)
        child.wait()
        let segment = try #require(try segmentFiles(db).last)
        #expect(truncate(segment, off_t(fileLength(segment) - 5)) == 0)
        let result = runInProcess(["check", db])
        #expect(result.status == 3, "\(result)")
        #expect(result.text.contains("torn tail"), "\(result.text)")
        // A writable open cuts the torn record; then the database is clean and holds the rest.
        #expect(runInProcess(["sync", db]).status == 0)
        #expect(runInProcess(["check", db]).status == 0)
        let count = try Database.open(
            at: db,
            options: {
                var o = Options()
                o.readOnly = true
                return o
            }())
        #expect(try count.count == 2_999)
        try count.close()
    }

    @Test("compact, backup and sync")
    func maintenance() throws {
        let dir = try TemporaryDirectory("maint")
        let db = dir.child("db")
        #expect(runInProcess(["import", db], input: sampleJSONLines(count: 1_000)).status == 0)
        let compacted = runInProcess(["compact", db])
        #expect(compacted.status == 0, "\(compacted)")
        #expect(runInProcess(["sync", db]).status == 0)
        let backup = dir.child("backup")
        let result = runInProcess(["backup", db, backup])
        #expect(result.status == 0, "\(result)")
        #expect(runInProcess(["check", backup]).status == 0)
        #expect(runInProcess(["export", backup]).output == runInProcess(["export", db]).output)
        #expect(runInProcess(["backup", db, backup]).status != 0)  // not empty any more
        #expect(runInProcess(["compact", dir.child("missing")]).status == 2)
    }

    @Test("backup --replace replaces an earlier backup, and only a database")
    func backupReplace() throws {
        let dir = try TemporaryDirectory("backupreplace")
        let db = dir.child("db")
        let backup = dir.child("backup")
        #expect(runInProcess(["import", db], input: sampleJSONLines(count: 500, seed: 1)).status == 0)
        #expect(runInProcess(["backup", db, backup]).status == 0)
        #expect(runInProcess(["import", db], input: sampleJSONLines(count: 700, seed: 2)).status == 0)
        #expect(runInProcess(["backup", db, backup]).status != 0)
        let replaced = runInProcess(["backup", db, backup, "--replace"])
        #expect(replaced.status == 0, "\(replaced)")
        #expect(runInProcess(["export", backup]).output == runInProcess(["export", db]).output)
        #expect(try Files.list(dir.path).map(\.name).sorted() == ["backup", "db"])
        // Not into the database itself, and never over something that is not a database.
        #expect(runInProcess(["backup", db, db + "/inner"]).status == 2)
        #expect(mkdir(dir.child("papers"), 0o755) == 0)
        try writeBytes(Array("mine".utf8), to: dir.child("papers") + "/notes.txt")
        let refused = runInProcess(["backup", db, dir.child("papers"), "--replace"])
        #expect(refused.status != 0, "\(refused)")
        #expect(try Files.list(dir.child("papers")).map(\.name) == ["notes.txt"])
        #expect(try Files.list(db).allSatisfy { $0.name != "inner" })
    }

    @Test("a read-only directory: exit 5 with a clear message")
    func readOnlyDirectory() throws {
        guard geteuid() != 0 else { return }  // root writes anywhere
        let dir = try TemporaryDirectory("ro")
        let db = dir.child("db")
        #expect(runInProcess(["put", db, "k", "v"]).status == 0)
        chmod(db, 0o555)
        defer { chmod(db, 0o755) }
        let result = runInProcess(["put", db, "k", "v2"])
        #expect(result.status == 5, "\(result)")
    }
}
