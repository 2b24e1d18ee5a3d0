import Glibc
import Pogreb
import Testing

@testable import PogrebTool

/// A command that refuses a directory, and every command that only reads, leaves the directory
/// exactly as it was: no file appears, none changes.
@Suite("refused and read-only commands create nothing")
struct RefusedCommandTests {
    /// Every entry of `path` (dot-files included) and its bytes; sub-directories as "<dir>".
    private func snapshot(_ path: String) throws -> [String: [UInt8]] {
        var files: [String: [UInt8]] = [:]
        for entry in try Files.list(path) {
            files[entry.name] = entry.isRegularFile ? try readBytes(path + "/" + entry.name) : Array("<dir>".utf8)
        }
        return files
    }

    private func expectUnchanged(
        _ arguments: [String], _ path: String, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let before = try snapshot(path)
        let result = runInProcess(arguments)
        #expect(result.status != 0, "\(arguments) was expected to refuse: \(result)", sourceLocation: sourceLocation)
        let after = try snapshot(path)
        let unchanged = after == before
        #expect(
            unchanged, "\(arguments) changed the directory: \(before.keys.sorted()) → \(after.keys.sorted())",
            sourceLocation: sourceLocation)
    }

    @Test("an empty directory: every command but put and import refuses it and leaves it empty")
    func emptyDirectoryStaysEmpty() throws {
        let dir = try TemporaryDirectory("empty")
        let path = dir.child("db")
        #expect(mkdir(path, 0o755) == 0)
        for arguments in [
            ["sync", path], ["repair", path, "--yes"], ["delete", path, "k"], ["compact", path], ["get", path, "k"],
            ["has", path, "k"], ["stats", path], ["check", path], ["scan", path], ["export", path],
            ["backup", path, dir.child("copy")],
        ] {
            try expectUnchanged(arguments, path)
            #expect(try Files.list(path).isEmpty, "\(arguments)")
        }
        #expect(!Files.exists(dir.child("copy")), "a refused backup leaves no destination")
    }

    @Test("repair --copy-to of a directory it refuses leaves no copy behind")
    func refusedRepairToACopyLeavesNoCopy() throws {
        let dir = try TemporaryDirectory("copy")
        let path = dir.child("db")
        #expect(mkdir(path, 0o755) == 0)
        try expectUnchanged(["repair", path, "--copy-to", dir.child("copy")], path)
        #expect(!Files.exists(dir.child("copy")))
    }

    @Test("a directory that holds segments but no checkpoint: writers refuse it and change nothing")
    func unfinishedDatabaseIsLeftAlone() throws {
        let dir = try TemporaryDirectory("nocheckpoint")
        let path = dir.child("db")
        #expect(runInProcess(["put", path, "k", "v"]).status == 0)
        for entry in try Files.list(path) where entry.name.hasPrefix("checkpoint-") {
            #expect(unlink(path + "/" + entry.name) == 0)
        }
        for arguments in [
            ["put", path, "k", "v2"], ["sync", path], ["delete", path, "k"], ["compact", path], ["get", path, "k"],
            ["stats", path], ["check", path],
        ] {
            try expectUnchanged(arguments, path)
        }
    }

    @Test("a directory with a foreign file: put, repair and sync refuse it and change nothing")
    func foreignDirectoryIsLeftAlone() throws {
        let dir = try TemporaryDirectory("foreign")
        let path = dir.child("db")
        #expect(mkdir(path, 0o755) == 0)
        try writeBytes(Array("my notes".utf8), to: path + "/notes.txt")
        for arguments in [["put", path, "k", "v"], ["repair", path, "--yes"], ["sync", path], ["get", path, "k"]] {
            try expectUnchanged(arguments, path)
        }
    }

    @Test("reading commands on a database change no file")
    func readingCommandsChangeNothing() throws {
        let dir = try TemporaryDirectory("reads")
        let path = dir.child("db")
        #expect(runInProcess(["put", path, "k", "v"]).status == 0)
        let before = try snapshot(path)
        for arguments in [
            ["get", path, "k"], ["has", path, "k"], ["stats", path], ["check", path], ["scan", path],
        ] {
            #expect(runInProcess(arguments).status == 0, "\(arguments)")
            let unchanged = try snapshot(path) == before
            #expect(unchanged, "\(arguments)")
        }
    }

    @Test("a missing and an empty directory are both \"no database there\": exit 2; a file is exit 3")
    func missingAndEmptyDirectoriesExitAlike() throws {
        let dir = try TemporaryDirectory("nodb")
        let empty = dir.child("empty")
        #expect(mkdir(empty, 0o755) == 0)
        let missing = dir.child("missing")
        let file = dir.child("file")
        try writeBytes(Array("a file".utf8), to: file)
        for command in [["get", "k"], ["stats"], ["sync"], ["check"], ["delete", "k"], ["repair", "--yes"]] {
            for path in [missing, empty] {
                let result = runInProcess([command[0], path] + command.dropFirst())
                #expect(result.status == 2, "\(command) on \(path): \(result)")
                #expect(result.error.contains("no database at"), "\(command) on \(path): \(result)")
            }
            let result = runInProcess([command[0], file] + command.dropFirst())
            #expect(result.status == 3, "\(command) on a file: \(result)")
            #expect((result.error + result.text).contains("this is a file"), "\(command) on a file: \(result)")
        }
        #expect(!Files.exists(missing))
        #expect(try Files.list(empty).isEmpty)
    }
}
