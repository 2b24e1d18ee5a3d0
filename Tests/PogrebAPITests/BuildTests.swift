import Foundation
import PogrebTestSupport
import Synchronization
import Testing

@testable import Pogreb

/// `Database.build(at:expectedCount:options:from:)`: one pass, then an atomic switch into place.
///
/// How it compares with one put after another is measured in `Benchmarks/` (`bulk build vs put
/// one by one`), not here.
@Suite struct BuildTests {
    /// Pairs of W1 keys `range`, all at `version`.
    static func pairs(_ range: Range<Int>, version: Int = 0) -> [([UInt8], [UInt8])] {
        range.map { (workloadKey($0), workloadValue($0, version: version)) }
    }

    /// The names in `directory`, sorted.
    static func names(in directory: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
    }

    /// Checks that the database at `path` holds exactly W1 keys `0..<count` at `version`.
    static func expectContents(
        at path: String, count: Int, version: Int, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let db = try Database.open(
            at: path,
            options: {
                var o = Options()
                o.readOnly = true
                return o
            }())
        defer { try? db.close() }
        #expect(try db.count == count, sourceLocation: sourceLocation)
        var wrong = 0
        for i in 0..<count where try db.get(workloadKey(i)) != workloadValue(i, version: version) { wrong += 1 }
        #expect(wrong == 0, "\(wrong) keys with a wrong value", sourceLocation: sourceLocation)
        #expect(try db.get(workloadKey(count)) == nil, sourceLocation: sourceLocation)
    }

    @Test func buildsANewDatabase() throws {
        try withTemporaryDirectory { root in
            let path = root + "/db"
            let n = 5_000
            var input = Self.pairs(0..<n)
            input.append((workloadKey(0), workloadValue(0, version: 1)))  // a key given twice: the last wins
            let report = try Database.build(at: path, expectedCount: n, from: input)
            #expect(report.pairs == n + 1)
            #expect(report.keys == n)
            #expect(report.replacedExisting == false)
            #expect(try Self.names(in: root) == ["db"], "no staging directory is left behind")

            let db = try Database.open(at: path)
            defer { try? db.close() }
            let statistics = try db.statistics
            #expect(statistics.recordsReplayedAtOpen == 0)
            #expect(statistics.indexRebuiltAtOpen == nil)
            #expect(statistics.tornTails.isEmpty)
            #expect(statistics.keyCount == n)
            #expect(statistics.indexLoad <= 1.0, "the index was sized for the keys up front")
            #expect(try db.get(workloadKey(0)) == workloadValue(0, version: 1))
            for i in 1..<n { #expect(try db.get(workloadKey(i)) == workloadValue(i)) }
            #expect(try db.verify().isClean)
            // A built database is an ordinary one: it takes writes.
            try db.put(workloadKey(n), workloadValue(n))
            #expect(try db.count == n + 1)
            try checkInvariants(db)
        }
    }

    @Test func buildsFromAnEmptySequenceAndALazyOne() throws {
        try withTemporaryDirectory { root in
            let empty = try Database.build(at: root + "/empty", from: [([UInt8], [UInt8])]())
            #expect(empty.keys == 0)
            try Self.expectContents(at: root + "/empty", count: 0, version: 0)
            // A lazy sequence, never held in memory as a whole, and no size given.
            let lazy = (0..<3_000).lazy.map { (workloadKey($0), workloadValue($0, version: 2)) }
            #expect(try Database.build(at: root + "/lazy", from: lazy).keys == 3_000)
            try Self.expectContents(at: root + "/lazy", count: 3_000, version: 2)
        }
    }

    @Test func replacesAnExistingDatabase() throws {
        try withTemporaryDirectory { root in
            let path = root + "/db"
            let old = try Database.open(at: path)
            for i in 0..<2_000 { try old.put(workloadKey(i), workloadValue(i, version: 0)) }
            try old.put(bytes("only-in-old"), bytes("x"))
            try old.close()

            let report = try Database.build(at: path, expectedCount: 1_000, from: Self.pairs(0..<1_000, version: 1))
            #expect(report.replacedExisting)
            #expect(try Self.names(in: root) == ["db"], "the old database is gone, no staging directory is left")
            try Self.expectContents(at: path, count: 1_000, version: 1)
            let db = try Database.open(at: path)
            defer { try? db.close() }
            #expect(try db.get(bytes("only-in-old")) == nil)
            #expect(try db.statistics.recordsReplayedAtOpen == 0)
        }
    }

    @Test func aWriterHoldingTheDatabaseMakesBuildFailAndChangeNothing() throws {
        try withTemporaryDirectory { root in
            let path = root + "/db"
            let writer = try Database.open(at: path)
            for i in 0..<500 { try writer.put(workloadKey(i), workloadValue(i)) }
            try writer.sync()
            let filesBefore = try Self.names(in: path)
            expectPogrebError(.locked) {
                try Database.build(at: path, expectedCount: 100, from: Self.pairs(0..<100, version: 1))
            }
            #expect(try Self.names(in: root) == ["db"], "the staging directory was removed")
            #expect(try Self.names(in: path) == filesBefore)
            #expect(try writer.get(workloadKey(7)) == workloadValue(7))
            try writer.close()
            try Self.expectContents(at: path, count: 500, version: 0)
        }
    }

    @Test func refusesToReplaceSomethingElse() throws {
        try withTemporaryDirectory { root in
            let path = root + "/notes"
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
            try Data("keep me".utf8).write(to: URL(fileURLWithPath: path + "/notes.txt"))
            expectPogrebError(.notADatabase) {
                try Database.build(at: path, from: Self.pairs(0..<10))
            }
            #expect(try Self.names(in: path) == ["notes.txt"])
            #expect(try Self.names(in: root) == ["notes"])
        }
    }

    /// Writes `text` to the file `path`.
    static func write(_ text: String, to path: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    }

    /// Every file under `directory` (recursively, dot-entries included) with its contents.
    static func tree(_ directory: String) throws -> [String: Data] {
        var result: [String: Data] = [:]
        let manager = FileManager.default
        for name in try manager.subpathsOfDirectory(atPath: directory) {
            var isDirectory: ObjCBool = false
            let full = directory + "/" + name
            if manager.fileExists(atPath: full, isDirectory: &isDirectory), isDirectory.boolValue {
                result[name + "/"] = Data()
            } else {
                result[name] = (try? Data(contentsOf: URL(fileURLWithPath: full))) ?? Data("<unreadable>".utf8)
            }
        }
        return result
    }

    /// A directory holding a file under one of our names that is not ours — the user's own
    /// `index.pgi`, `checkpoint.tmp`, `pogreb.lock`, segment — or a subdirectory or a symbolic
    /// link among a database's files is refused before anything is written, and nothing of it
    /// moves: the check `open` makes for a directory without a checkpoint.
    @Test func replacingRefusesADirectoryThatIsNotWhollyADatabase() throws {
        let cases: [(String, (String) throws -> Void)] = [
            ("index.pgi", { try Self.write("my own index\n", to: $0 + "/index.pgi") }),
            ("checkpoint.tmp", { try Self.write("scratch\n", to: $0 + "/checkpoint.tmp") }),
            ("pogreb.lock", { try Self.write("pid 42\n", to: $0 + "/pogreb.lock") }),
            ("segment", { try Self.write("log line\n", to: $0 + "/segment-0000000000000001.pgl") }),
            (
                "overflow.pgo directory",
                {
                    try? FileManager.default.removeItem(atPath: $0 + "/overflow.pgo")
                    try FileManager.default.createDirectory(
                        atPath: $0 + "/overflow.pgo", withIntermediateDirectories: false)
                }
            ),
            (
                "subdirectory",
                {
                    try FileManager.default.createDirectory(atPath: $0 + "/archive", withIntermediateDirectories: false)
                    try Self.write("old\n", to: $0 + "/archive/a.txt")
                }
            ),
            (
                "symbolic link",
                {
                    try Self.write("elsewhere\n", to: $0 + "/../elsewhere.txt")
                    try FileManager.default.createSymbolicLink(
                        atPath: $0 + "/checkpoint.tmp", withDestinationPath: $0 + "/../elsewhere.txt")
                }
            ),
        ]
        for (label, makeForeign) in cases {
            try withTemporaryDirectory { root in
                let path = root + "/db"
                // Alone in a directory, and beside a real database.
                for besideADatabase in [false, true] {
                    if besideADatabase {
                        let db = try Database.open(at: path)
                        try db.put(bytes("k"), bytes("v"))
                        try db.close()
                    } else {
                        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
                    }
                    try makeForeign(path)
                    let before = try Self.tree(path)
                    let rootBefore = try Self.names(in: root)
                    expectPogrebError(.notADatabase) {
                        try Database.build(at: path, from: Self.pairs(0..<10))
                    }
                    #expect(try Self.tree(path) == before, "\(label): the directory is unchanged")
                    #expect(try Self.names(in: root) == rootBefore, "\(label): no staging directory is left")
                    try FileManager.default.removeItem(atPath: path)
                }
            }
        }
    }

    /// Entries starting with a dot (`.DS_Store`, `.notes`, `.git/`), which `open` tolerates, are
    /// kept: they move into the new database directory, and only the old database's own files
    /// are deleted.
    @Test func replacingKeepsDotEntriesAndDeletesOnlyTheOldDatabase() throws {
        try withTemporaryDirectory { root in
            let path = root + "/db"
            let old = try Database.open(at: path)
            for i in 0..<300 { try old.put(workloadKey(i), workloadValue(i)) }
            try old.close()
            try Self.write("finder\n", to: path + "/.DS_Store")
            try Self.write("my notes\n", to: path + "/.notes")
            try FileManager.default.createDirectory(atPath: path + "/.git/objects", withIntermediateDirectories: true)
            try Self.write("ref: refs/heads/main\n", to: path + "/.git/HEAD")
            let dotted = try Self.tree(path).filter { $0.key.hasPrefix(".") }

            let report = try Database.build(at: path, from: Self.pairs(0..<100, version: 1))
            #expect(report.replacedExisting)
            #expect(report.oldDatabaseLeftAt == nil)
            #expect(try Self.names(in: root) == ["db"], "the old database is gone, nothing is left beside")
            #expect(try Self.tree(path).filter { $0.key.hasPrefix(".") } == dotted, "every dot-entry kept as it was")
            try Self.expectContents(at: path, count: 100, version: 1)
        }
    }

    /// A symbolic link at the path (`current -> v1`) is followed: v1's database is replaced and
    /// the link stays; nothing is deleted through the link and no file of v1 goes elsewhere.
    @Test func aSymbolicLinkAtThePathIsFollowedAndKept() throws {
        try withTemporaryDirectory { root in
            _ = try Database.build(at: root + "/v1", from: Self.pairs(0..<500, version: 0))
            try FileManager.default.createSymbolicLink(atPath: root + "/current", withDestinationPath: "v1")
            let report = try Database.build(at: root + "/current", from: Self.pairs(0..<200, version: 1))
            #expect(report.replacedExisting)
            #expect(report.oldDatabaseLeftAt == nil)
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: root + "/current") == "v1")
            #expect(try Self.names(in: root) == ["current", "v1"])
            try Self.expectContents(at: root + "/current", count: 200, version: 1)
            try Self.expectContents(at: root + "/v1", count: 200, version: 1)
        }
    }

    /// `db/` names the directory `db`: the staging directory goes beside it, not inside.
    @Test func aTrailingSlashNamesTheDirectoryItself() throws {
        try withTemporaryDirectory { root in
            #expect(try Database.build(at: root + "/db/", from: Self.pairs(0..<50)).replacedExisting == false)
            #expect(try Self.names(in: root) == ["db"])
            let report = try Database.build(at: root + "/db//", from: Self.pairs(0..<70, version: 1))
            #expect(report.replacedExisting)
            #expect(try Self.names(in: root) == ["db"])
            try Self.expectContents(at: root + "/db", count: 70, version: 1)
        }
    }

    /// An existing empty directory takes the new database with nothing left beside it, and so
    /// does a database holding the empty `pogreb.lock` of an earlier version: its old files are
    /// deleted, not left.
    @Test func anEmptyDirectoryOrADatabaseWithAnOldLockFileIsReplacedWithNothingLeftBehind() throws {
        try withTemporaryDirectory { root in
            let path = root + "/db"
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
            let first = try Database.build(at: path, from: Self.pairs(0..<40))
            #expect(first.replacedExisting == false)
            #expect(first.oldDatabaseLeftAt == nil)
            #expect(try Self.names(in: root) == ["db"])

            #expect(FileManager.default.createFile(atPath: path + "/pogreb.lock", contents: Data()))
            let second = try Database.build(at: path, from: Self.pairs(0..<30, version: 1))
            #expect(second.replacedExisting)
            #expect(second.oldDatabaseLeftAt == nil)
            #expect(try Self.names(in: root) == ["db"])
            try Self.expectContents(at: path, count: 30, version: 1)
        }
    }

    /// `segmentSize` is checked as `open` checks it, before anything is created.
    @Test func aSegmentSizeOutOfRangeIsRefusedBeforeAnythingIsWritten() throws {
        try withTemporaryDirectory { root in
            for size in [1_000, 1 << 41] {
                var options = Options()
                options.segmentSize = size
                expectPogrebError(.invalidArgument) {
                    try Database.build(at: root + "/db", options: options, from: Self.pairs(0..<10))
                }
                let names = try Self.names(in: root)
                #expect(names.isEmpty)
            }
        }
    }

    /// Readers of the old database keep reading it through the switch, and a new open sees the
    /// new one.
    @Test func openReadersKeepTheOldDatabase() throws {
        try withTemporaryDirectory { root in
            let path = root + "/db"
            _ = try Database.build(at: path, from: Self.pairs(0..<1_000, version: 0))
            var readOnly = Options()
            readOnly.readOnly = true
            let reader = try Database.open(at: path, options: readOnly)
            defer { try? reader.close() }
            let report = try Database.build(at: path, from: Self.pairs(0..<800, version: 1))
            #expect(report.replacedExisting)
            for i in 0..<1_000 { #expect(try reader.get(workloadKey(i)) == workloadValue(i, version: 0)) }
            #expect(try reader.count == 1_000)
            try Self.expectContents(at: path, count: 800, version: 1)
        }
    }

    /// A reader that opens the database by path again and again while builds replace it finds a
    /// whole generation each time: every key at one version, the count of that generation.
    @Test func reopeningDuringRebuildsSeesOldOrNewNeverAMix() throws {
        try withTemporaryDirectory { root in
            let path = root + "/db"
            let generations = 25
            @Sendable func size(_ generation: Int) -> Int { 200 + 10 * generation }
            _ = try Database.build(at: path, from: Self.pairs(0..<size(0), version: 0))
            let stop = StopFlag()
            let opens = Atomic<Int>(0)
            let failures = Mutex<[String]>([])
            let leftBehind = Mutex<[String]>([])  // old databases a reader still held at a switch
            var readOnly = Options()
            readOnly.readOnly = true
            let options = readOnly
            try onThreads(2) { thread in
                if thread == 0 {
                    defer { stop.stop() }
                    for generation in 1...generations {
                        let report = try Database.build(
                            at: path, from: Self.pairs(0..<size(generation), version: generation))
                        if let old = report.oldDatabaseLeftAt { leftBehind.withLock { $0.append(old) } }
                    }
                    return
                }
                var last = 0
                while !stop.isStopped {
                    let db: Database
                    do { db = try Database.open(at: path, options: options) } catch {
                        failures.withLock { $0.append("open: \(error)") }
                        continue
                    }
                    defer { try? db.close() }
                    guard let first = try db.get(workloadKey(0)),
                        let generation = (0...generations).first(where: { workloadValue(0, version: $0) == first })
                    else {
                        failures.withLock { $0.append("key 0 holds no known generation") }
                        continue
                    }
                    #expect(generation >= last, "generation \(generation) after \(last)")
                    last = generation
                    #expect(try db.count == size(generation))
                    var mixed = 0
                    for i in 0..<size(generation)
                    where try db.get(workloadKey(i)) != workloadValue(i, version: generation) { mixed += 1 }
                    #expect(mixed == 0, "\(mixed) keys of generation \(generation) hold another generation's value")
                    opens.add(1, ordering: .relaxed)
                }
            }
            let seen = failures.withLock { $0 }
            #expect(seen.isEmpty, "\(seen.count) opens failed during rebuilds, first: \(seen.first ?? "")")
            #expect(opens.load(ordering: .relaxed) > 0)
            try Self.expectContents(at: path, count: size(generations), version: generations)
            // Old databases are deleted at each switch, except one a reader still had open.
            let left = Set(leftBehind.withLock { $0 }.map { String($0.split(separator: "/").last ?? "") })
            #expect(try Self.names(in: root).filter { !left.contains($0) } == ["db"])
        }
    }
}
