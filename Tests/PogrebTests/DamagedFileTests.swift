import Foundation
import PogrebTestSupport
import Testing

@testable import Pogreb

/// Damaged files, counted: for every kind of file of a small database (the oldest, a middle and
/// the newest segment, `index.pgi`, `overflow.pgo`, both checkpoint slots), truncations, flipped
/// bits in the header and elsewhere, the same file from another database, the file deleted, and
/// (on the POSIX kinds) a directory or a symlink in its place. For each, a read-only open reads
/// every key, iterates and verifies; a writable open reads every key, writes one and verifies;
/// `repair` runs, and a last open reads every key. Every step must either throw a typed
/// ``PogrebError`` or give the right data: never a trap (which kills this process), never a value
/// the key never had, never a present key reported absent unless a step of that mutation
/// reported damage, and never a changed byte from the read-only steps. The newest segment is the
/// exception the design allows: damage at its end is a torn tail, which opening cuts (so its
/// last records may go, and a key may show its previous value).
///
/// The default run samples (about 30-60 s in all); `POGREB_LONG_TESTS=1` flips every header bit
/// and takes more lengths and bits. The seed is printed (`POGREB_SEED` replays it), and so is a
/// table of mutations by file, kind and outcome.
@Suite(.serialized) struct DamagedFileTests {
    /// The versions every key had: the final one (nil when deleted) and every value it ever held.
    struct Expected {
        var final: [[UInt8]: [UInt8]] = [:]
        var history: [[UInt8]: Set<[UInt8]>] = [:]
        var keys: [[UInt8]] = []

        mutating func put(_ key: [UInt8], _ value: [UInt8]) {
            if final[key] == nil && history[key] == nil { keys.append(key) }
            final[key] = value
            history[key, default: []].insert(value)
        }

        mutating func delete(_ key: [UInt8]) { final[key] = nil }
    }

    /// Builds the small database every mutation starts from: 800 short values (so the index
    /// has overflow buckets), 140 values of 8 KiB (two segments), overwrites, deletes, a batch,
    /// and checkpoints (both slots). `salt` changes every value (another database, same names).
    static func build(_ test: TestDatabase, salt: Int) throws -> Expected {
        var expected = Expected()
        let db = try test.open()
        func put(_ k: [UInt8], _ v: [UInt8]) throws {
            try db.put(k, v)
            expected.put(k, v)
        }
        for i in 0..<800 { try put(key(i), value(i, version: salt)) }
        try db.checkpoint()
        for i in 0..<140 { try put(key(10_000 + i), value(10_000 + i, version: salt, length: 8 << 10)) }
        for i in stride(from: 0, to: 800, by: 7) { try put(key(i), value(i, version: salt + 1)) }
        try db.checkpoint()
        for i in stride(from: 3, to: 800, by: 11) {
            _ = try db.delete(key(i))
            expected.delete(key(i))
        }
        var batch = WriteBatch()
        for i in 800..<810 {
            batch.put(key(i), value(i, version: salt))
            expected.put(key(i), value(i, version: salt))
        }
        batch.delete(key(5))
        expected.delete(key(5))
        _ = try db.apply(batch)
        for i in 0..<20 { try put(key(20_000 + i), value(20_000 + i, version: salt, length: 3000)) }
        try db.close()
        return expected
    }

    /// One way to damage a file.
    enum Mutation: CustomStringConvertible {
        case truncate(Int)
        case flip(bit: Int, inHeader: Bool)
        case fromOtherDatabase
        /// The file's bytes after its header appended again: for a segment, valid records past
        /// the end it had, and for a full one past the offsets a log address holds.
        case grown
        case delete
        case directory
        case symlinkToCopy
        case danglingSymlink

        /// The column of the table.
        var kind: String {
            switch self {
            case .truncate: return "truncate"
            case .flip(_, let inHeader): return inHeader ? "flip header" : "flip body"
            case .fromOtherDatabase: return "other db"
            case .grown: return "grown"
            case .delete: return "delete"
            case .directory: return "directory"
            case .symlinkToCopy: return "symlink"
            case .danglingSymlink: return "dangling"
            }
        }

        var description: String {
            switch self {
            case .truncate(let length): return "truncated to \(length) bytes"
            case .flip(let bit, _): return "bit \(bit) flipped"
            default: return kind
            }
        }
    }

    /// The files to damage, with their role: what the table calls them.
    static func targets(_ names: [String]) -> [(role: String, name: String)] {
        let segments = names.filter { DatabaseFiles.segmentSequence(of: $0) != nil }.sorted()
        var targets: [(String, String)] = []
        if let first = segments.first { targets.append(("segment oldest", first)) }
        if segments.count > 2 { targets.append(("segment middle", segments[segments.count / 2])) }
        if let last = segments.last, segments.count > 1 { targets.append(("segment newest", last)) }
        for name in [DatabaseFiles.index, DatabaseFiles.overflow] where names.contains(name) {
            targets.append((name, name))
        }
        for slot in 0..<2 where names.contains(DatabaseFiles.checkpoint(slot: slot)) {
            targets.append(("checkpoint-\(slot)", DatabaseFiles.checkpoint(slot: slot)))
        }
        return targets
    }

    /// The mutations of one file: every length and header bit when `exhaustive`, samples otherwise.
    static func mutations(
        of bytes: [UInt8], posix: Bool, samples: Int, exhaustive: Bool, using random: inout SeededGenerator
    ) -> [Mutation] {
        var result: [Mutation] = []
        let size = bytes.count
        // Lengths: all of them for a small file, else the header's, a few around the first
        // records and sampled ones.
        if size <= 2 * FileHeader.size + 64 || (exhaustive && size <= 8192) {
            result += (0..<size).map { .truncate($0) }
        } else if samples == 0 {
            result += [.truncate(0), .truncate(FileHeader.size)]
        } else {
            var lengths: Set<Int> = [0, size - 1, FileHeader.size, FileHeader.size + 1, size / 2]
            let headerLengths =
                exhaustive
                ? Array(1..<FileHeader.size)
                : (0..<min(8, samples)).map { _ in Int.random(in: 1..<FileHeader.size, using: &random) }
            lengths.formUnion(headerLengths)
            for _ in 0..<samples { lengths.insert(Int.random(in: FileHeader.size..<size, using: &random)) }
            result += lengths.sorted().map { .truncate($0) }
        }
        let headerBits = min(size, FileHeader.size) * 8
        if exhaustive {
            result += (0..<headerBits).map { .flip(bit: $0, inHeader: true) }
        } else {
            var bits: Set<Int> = []
            for _ in 0..<samples { bits.insert(Int.random(in: 0..<headerBits, using: &random)) }
            result += bits.sorted().map { .flip(bit: $0, inHeader: true) }
        }
        if size > FileHeader.size {
            var bits: Set<Int> = []
            for _ in 0..<samples { bits.insert(Int.random(in: (FileHeader.size * 8)..<(size * 8), using: &random)) }
            result += bits.sorted().map { .flip(bit: $0, inHeader: false) }
        }
        result += [.fromOtherDatabase, .grown, .delete]
        if posix { result += [.directory, .symlinkToCopy, .danglingSymlink] }
        return result
    }

    /// Counts of mutations by row (file role and mutation kind) and outcome, and the violations.
    final class Tally {
        var counts: [String: [String: Int]] = [:]
        var mutations = 0
        var violations = 0

        func add(row: String, outcomes: [String]) {
            for outcome in outcomes { counts[row, default: [:]][outcome, default: 0] += 1 }
            counts[row, default: [:]]["n", default: 0] += 1
            mutations += 1
        }

        /// The table: a row per file role and mutation kind, a column per outcome.
        func table(_ title: String) -> String {
            let phases = ["n", "ro", "rw", "repair"]
            let outcomes = Set(counts.values.flatMap(\.keys)).sorted {
                let (a, b) = ($0.split(separator: " ")[0], $1.split(separator: " ")[0])
                return a == b ? $0 < $1 : phases.firstIndex(of: String(a))! < phases.firstIndex(of: String(b))!
            }
            let rows = counts.keys.sorted()
            let width = max(28, (rows.map(\.count).max() ?? 0) + 2)
            func pad(_ text: String, _ n: Int) -> String {
                text + String(repeating: " ", count: max(1, n - text.count))
            }
            var text = "\(title): \(mutations) mutations, \(violations) violations\n"
            text += pad("file / mutation", width) + outcomes.map { pad($0, max(8, $0.count + 2)) }.joined() + "\n"
            for row in rows {
                text += pad(row, width)
                text += outcomes.map { pad("\(counts[row]?[$0] ?? 0)", max(8, $0.count + 2)) }.joined() + "\n"
            }
            return text
        }
    }

    /// What the directory holds, by name: bytes for a file, a mark for a directory or a symlink.
    static func state(of test: TestDatabase) throws -> [String: [UInt8]] {
        if let memory = test.memory {
            var files: [String: [UInt8]] = [:]
            for name in try memory.listFiles() { files[name] = memory.contents(of: name) ?? [] }
            return files
        }
        guard let directory = test.directory else { return [:] }
        var files: [String: [UInt8]] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) {
            let path = directory + "/" + name
            if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: path) {
                files[name] = Array(("symlink to " + target).utf8)
                continue
            }
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
            files[name] = isDirectory.boolValue ? Array("directory".utf8) : try test.contents(of: name) ?? []
        }
        return files
    }

    /// Puts back the pristine files: a fresh memory file system, or the same directory emptied
    /// and filled again (the file system keeps the directory open, so it must stay the same one).
    static func restore(_ test: TestDatabase, _ pristine: [String: [UInt8]]) throws {
        if test.memory != nil { return try test.restore(pristine) }
        guard let directory = test.directory else { return }
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) {
            try FileManager.default.removeItem(atPath: directory + "/" + name)
        }
        for (name, bytes) in pristine { try test.setContents(of: name, to: bytes) }
    }

    /// Applies `mutation` to `name` (already restored to `original`).
    static func apply(
        _ mutation: Mutation, to name: String, original: [UInt8], other: [UInt8]?, test: TestDatabase, spare: String
    ) throws {
        switch mutation {
        case .truncate(let length): try test.setContents(of: name, to: Array(original.prefix(length)))
        case .flip(let bit, _):
            var bytes = original
            bytes[bit / 8] ^= 1 << UInt8(bit % 8)
            try test.setContents(of: name, to: bytes)
        case .fromOtherDatabase:
            if let other { try test.setContents(of: name, to: other) } else { try test.removeFile(name) }
        case .grown: try test.setContents(of: name, to: original + original.dropFirst(FileHeader.size))
        case .delete: try test.removeFile(name)
        case .directory:
            let directory = try #require(test.directory)
            try test.removeFile(name)
            try FileManager.default.createDirectory(atPath: directory + "/" + name, withIntermediateDirectories: false)
        case .symlinkToCopy, .danglingSymlink:
            let directory = try #require(test.directory)
            let target = spare + "/" + name
            try? FileManager.default.removeItem(atPath: target)
            if case .symlinkToCopy = mutation { try Data(original).write(to: URL(fileURLWithPath: target)) }
            try test.removeFile(name)
            try FileManager.default.createSymbolicLink(atPath: directory + "/" + name, withDestinationPath: target)
        }
    }

    /// Runs every step on the damaged directory and checks what each gives. Returns the outcome of
    /// each phase (read-only, writable, repair): "ok" when none of its steps threw, "rebuilt" for
    /// a writable open that rebuilt the index, else the code of the phase's first error.
    static func exercise(
        _ test: TestDatabase, expected: Expected, tornTailAllowed: Bool, context: String, tally: Tally
    ) throws -> [String] {
        // The outcome of each phase: "ok", "rebuilt" (a writable open that rebuilt the index) or
        // the code of the phase's first error.
        var phase = "ro"
        var outcomes: [String: String] = [:]
        var damageReported = false
        var violations = 0
        func violation(_ text: String, _ location: SourceLocation = #_sourceLocation) {
            violations += 1
            Issue.record(Comment(rawValue: text + " — " + context), sourceLocation: location)
        }
        /// Runs one step; a `PogrebError` is an allowed outcome, anything else a violation.
        func step(_ name: String, _ body: () throws -> Void) {
            do {
                try body()
            } catch let error as PogrebError {
                damageReported = true
                if [.locked, .closed, .busy, .invalidArgument, .readOnly].contains(error.code) {
                    violation("\(name) threw an error that is not about damage: \(error)")
                }
                if outcomes[phase] == nil { outcomes[phase] = "\(error.code)" }
            } catch {
                violation("\(name) threw a non-PogrebError: \(error)")
            }
        }
        func check(_ found: [UInt8]?, for key: [UInt8], _ what: String) {
            let want = expected.final[key]
            if found == want { return }
            if let found {
                if tornTailAllowed && expected.history[key]?.contains(found) == true { return }
                violation("\(what): \(printable(key)) has a value it never had or no longer has")
            } else if !(damageReported || tornTailAllowed) {
                violation("\(what): \(printable(key)) is reported absent with no damage reported")
            }
        }
        func readEverything(_ db: Database, _ what: String, iterate: Bool = true) {
            for key in expected.keys {
                step("\(what) get") { check(try db.get(key), for: key, "\(what) get") }
            }
            guard iterate else { return }
            step("\(what) iteration") {
                try db.forEachItem { item in
                    if expected.history[item.key] == nil {
                        violation("\(what) iteration: a key never written: \(printable(item.key))")
                    } else {
                        check(item.value, for: item.key, "\(what) iteration")
                    }
                }
            }
        }
        func verify(_ db: Database, _ what: String) {
            step("\(what) verify") {
                let report = try db.verify()
                if !report.isClean { damageReported = true }
            }
        }

        // Read-only: no byte changes.
        let before = try state(of: test)
        step("read-only open") {
            let db = try test.open { $0.readOnly = true }
            defer { try? db.close() }
            readEverything(db, "read-only")
            verify(db, "read-only")
        }
        if try state(of: test) != before { violation("the read-only steps changed the files") }

        // Writable: reads, one write, verify.
        phase = "rw"
        step("writable open") {
            let db = try test.open()
            defer { try? db.close() }
            if try db.statistics.indexRebuiltAtOpen != nil {
                damageReported = true
                outcomes[phase] = "rebuilt"
            }
            readEverything(db, "writable", iterate: false)
            let newKey = bytes("damaged-file-new-key")
            step("put") {
                try db.put(newKey, bytes("new"))
                if try db.get(newKey) != bytes("new") { violation("a key just written reads back wrong") }
                _ = try db.delete(newKey)
            }
            verify(db, "writable")
        }

        // Repair, then open and read.
        phase = "repair"
        step("repair") {
            let report = try Database.repair(fileSystem: test.fileSystem)
            if !report.damageCut.isEmpty || !report.tornTails.isEmpty { damageReported = true }
        }
        step("open after repair") {
            let db = try test.open()
            defer { try? db.close() }
            readEverything(db, "after repair", iterate: false)
        }
        tally.violations += violations
        return ["ro", "rw", "repair"].map { "\($0) \(outcomes[$0] ?? "ok")" }
    }

    /// The whole campaign on one file-system kind: `samples` lengths and bits per file.
    static func campaign(_ kind: FileSystemKind, samples: Int, exhaustive: Bool, label: String) throws -> Tally {
        var random = SeededGenerator.make("damaged files, \(kind)")
        let tally = Tally()
        try withTemporaryDirectory { spare in
            let other = try withTestDatabase(kind, configure: smallOptions) { test in
                _ = try build(test, salt: 100)
                return try test.snapshot()
            }
            try withTestDatabase(kind, configure: smallOptions) { test in
                let expected = try build(test, salt: 0)
                let pristine = try test.snapshot()
                let start = ContinuousClock.now
                for (role, name) in targets(Array(pristine.keys)) {
                    let original = try #require(pristine[name])
                    let list = mutations(
                        of: original, posix: !kind.isMemory, samples: samples, exhaustive: exhaustive, using: &random)
                    for mutation in list {
                        try restore(test, pristine)
                        try apply(mutation, to: name, original: original, other: other[name], test: test, spare: spare)
                        let context = "\(name) (\(role)) \(mutation), \(kind), seed \(random.seed)"
                        let began = ContinuousClock.now
                        let outcome = try exercise(
                            test, expected: expected, tornTailAllowed: role == "segment newest", context: context,
                            tally: tally)
                        let took = ContinuousClock.now - began
                        #expect(took < .seconds(20), Comment(rawValue: "took \(took): \(context)"))
                        tally.add(row: "\(role) / \(mutation.kind)", outcomes: outcome)
                    }
                }
                print(tally.table("damaged files, \(kind), \(label), \(ContinuousClock.now - start)"))
            }
        }
        return tally
    }

    /// Memory file system: the most mutations (it is the fastest).
    @Test(.timeLimit(.minutes(30))) func damagedFilesOnTheMemoryFileSystem() throws {
        let tally = try Self.campaign(
            .memory, samples: longTestsEnabled ? 200 : 3, exhaustive: longTestsEnabled,
            label: longTestsEnabled ? "long" : "sampled")
        #expect(tally.violations == 0)
        #expect(tally.mutations > 0)
    }

    /// The POSIX kinds (pread and mmap): a directory and symlinks in place of each file, and (by
    /// default) only two lengths, no flipped bits: the memory kind samples those.
    @Test(.timeLimit(.minutes(30)), arguments: [FileSystemKind.posixPread, .posixMmap])
    func damagedFilesOnPosix(_ kind: FileSystemKind) throws {
        let tally = try Self.campaign(
            kind, samples: longTestsEnabled ? 48 : 0, exhaustive: false, label: longTestsEnabled ? "long" : "sampled")
        #expect(tally.violations == 0)
        #expect(tally.mutations > 0)
    }
}
