import PogrebTestSupport
import Testing

@testable import Pogreb

/// Every fault point of a backup, a bulk build and a repair: for each kind of operation and
/// N = 1, 2, … until the operation completes, the N-th one fails — with `EIO`, `ENOSPC` or as a
/// short write, once or for ever after (the process stopped there). Faults go into the staging
/// directory's files, into the parent directory's operations (`mkdir`, `rename`, exchange,
/// `rmdir`, `unlink`, the `fsync`s, the reads that inspect the target; a
/// ``FaultInjectingDirectoryTree`` over a ``MemoryDirectoryTree``), and for a backup into the
/// source database's own files (its checkpoint, the reads of its segments). Each run checks: a
/// failed call throws a `PogrebError` and only after a fault was met; the source database still
/// holds its data and takes a write (or, when its own storage failed, refuses writes and reopens
/// holding its data); the path holds the old database (or nothing) or, only when the call returned
/// or said that the parent's `fsync` failed after the switch, the new one — whole, opening without
/// repair — now and after a power cut that loses everything unsynced; nothing is left beside it
/// but a staging directory of our files. A failed repair leaves a database that opens with its
/// data, or that a second repair restores.
@Suite struct MaintenanceFaultPointTests {
    typealias FileOperation = FaultInjectingFileSystem.Operation
    typealias TreeOperation = FaultInjectingDirectoryTree.Operation
    typealias Fault = FaultInjectingFileSystem.Fault

    enum Job: String, CaseIterable, CustomStringConvertible {
        case backupToANewPath, backupReplacingABackup, buildAtANewPath, buildReplacingADatabase
        var description: String { rawValue }
        var isBackup: Bool { self == .backupToANewPath || self == .backupReplacingABackup }
        var replaces: Bool { self == .backupReplacingABackup || self == .buildReplacingADatabase }
    }

    /// Where the fault goes.
    enum Place: CustomStringConvertible {
        case staging(FileOperation)
        case tree(TreeOperation)
        case source(FileOperation)

        var description: String {
            switch self {
            case .staging(let operation): return "staging \(operation)"
            case .tree(let operation): return "parent \(operation)"
            case .source(let operation): return "source \(operation)"
            }
        }
    }

    /// Counts of one campaign, by place.
    final class Tally: @unchecked Sendable {
        // @unchecked Sendable: used by one test's thread only.
        var runs = 0
        var faultsMet = 0
        /// The fault was met and the call still returned (a disposal that left the old directory).
        var absorbed = 0
        var violations = 0
        var rows: [String: (runs: Int, met: Int, absorbed: Int)] = [:]

        func violation(_ message: String) {
            violations += 1
            Issue.record(Comment(rawValue: message))
        }
    }

    static let root = "/data"
    static let path = "/data/db"
    static let papers: [UInt8] = Array("the user's papers".utf8)

    static func options(_ options: inout Options) {
        PowerCutStateTests.options(&options)
    }

    static func pairs(_ range: Range<Int>, version: Int) -> [([UInt8], [UInt8])] {
        range.map { (key($0), value($0, version: version, length: $0 % 9 == 0 ? 2000 : 80)) }
    }

    /// One run's world: the parent directory, the source database of a backup, the data.
    struct World {
        var tree: MemoryDirectoryTree
        var source: Database?
        var sourceFiles: MemoryFileSystem?
        var sourceFaults: FaultInjectingFileSystem?
        var old: [[UInt8]: [UInt8]]?
        var new: [[UInt8]: [UInt8]]
        var newPairs: [([UInt8], [UInt8])]
    }

    static func makeWorld(_ job: Job, options: Options) throws -> World {
        let tree = MemoryDirectoryTree(root: root)
        try tree.makeDirectory(root + "/papers")
        tree.directory("papers")!.setContents(of: "notes.txt", to: papers)
        let oldPairs = pairs(0..<40, version: 0)
        let newPairs = pairs(20..<70, version: 1)
        var world = World(tree: tree, new: Dictionary(newPairs, uniquingKeysWith: { $1 }), newPairs: newPairs)
        if job.isBackup {
            let files = MemoryFileSystem(displayPath: "memory:/source")
            let faults = FaultInjectingFileSystem(wrapping: files)
            let db = try Database.open(fileSystem: faults, options: options)
            for (k, v) in oldPairs { try db.put(k, v) }
            if job.replaces { _ = try db.backup(to: path, replacing: false, tree: tree) { $0 } }
            for (k, v) in newPairs { try db.put(k, v) }
            try db.delete(key(1))
            try db.sync()  // the data the source must keep through the backup's failures
            var expected = Dictionary(oldPairs, uniquingKeysWith: { $1 })
            for (k, v) in newPairs { expected[k] = v }
            expected[key(1)] = nil
            world.new = expected
            world.source = db
            world.sourceFiles = files
            world.sourceFaults = faults
        } else if job.replaces {
            _ = try Database.build(at: path, options: options, from: oldPairs, tree: tree) { $0 }
        }
        if job.replaces {
            tree.directory("db")!.setContents(of: ".notes", to: papers)
            world.old = Dictionary(oldPairs, uniquingKeysWith: { $1 })
        }
        tree.makeDurable()
        return world
    }

    /// The contents of the database in `directory`, opened writable on a copy.
    static func contents(of directory: MemoryFileSystem, options: Options) throws -> [[UInt8]: [UInt8]] {
        let db = try Database.open(fileSystem: directory, options: options)
        defer { abandon(db) }
        var contents: [[UInt8]: [UInt8]] = [:]
        try db.forEachItem { contents[$0.key] = $0.value }
        return contents
    }

    /// Checks the parent directory's entries `entries` (live, or after a power cut).
    static func checkParent(
        _ entries: [String: MemoryFileSystem], world: World, newAllowed: Bool, options: Options, tally: Tally,
        _ context: String
    ) {
        if entries["papers"]?.contents(of: "notes.txt") != papers {
            tally.violation("the user's papers/ changed. \(context)")
        }
        for (name, directory) in entries where name != "papers" && name != "db" {
            guard name.hasPrefix("db.backup-") || name.hasPrefix("db.building-") else {
                tally.violation("\(name) appeared beside the path. \(context)")
                continue
            }
            let foreign = ((try? directory.listFiles()) ?? []).filter {
                !$0.hasPrefix(".") && !DatabaseFiles.isOurs($0)
            }
            if !foreign.isEmpty { tally.violation("\(name) holds \(foreign). \(context)") }
        }
        guard let destination = entries["db"] else {
            if world.old != nil || newAllowed && !isLeftUnsynced(context) {
                tally.violation("the path holds nothing. \(context)")
            }
            return
        }
        do {
            let found = try contents(of: destination.copy(), options: options)
            if found == world.new {
                if !newAllowed { tally.violation("the failed call published the new database. \(context)") }
            } else if let old = world.old, found == old {
            } else {
                tally.violation("the path holds \(found.count) keys, neither the old nor the new. \(context)")
            }
        } catch {
            tally.violation("the path does not open: \(error). \(context)")
        }
    }

    /// Whether `context` is that of a power cut after a failed `fsync` of the parent, when even a
    /// new database already switched in may be lost (the error says so).
    static func isLeftUnsynced(_ context: String) -> Bool { context.contains("[unsynced parent]") }

    /// Runs `job` with the N-th `place` operation failing, for N = 1, 2, … until it completes.
    static func campaign(
        _ job: Job, _ place: Place, fault: Fault, sticky: Bool, options: Options, tally: Tally
    ) throws {
        var n = 1
        while n < 400 {
            let world = try makeWorld(job, options: options)
            defer { if let source = world.source { abandon(source) } }
            let tree = FaultInjectingDirectoryTree(wrapping: world.tree)
            var stagingFaults: FaultInjectingFileSystem?
            let wrap: (any FileSystem) -> any FileSystem = { staging in
                guard case .staging(let operation) = place else { return staging }
                let faulty = FaultInjectingFileSystem(wrapping: staging)
                faulty.arm([operation], failingAt: n, sticky: sticky, fault: fault)
                stagingFaults = faulty
                return faulty
            }
            switch place {
            case .tree(let operation): tree.arm(operation, failingAt: n, sticky: sticky, full: fault != .eio)
            case .source(let operation):
                world.sourceFaults!.arm([operation], failingAt: n, sticky: sticky, fault: fault)
            case .staging: break
            }
            let context = "\(job), \(place) #\(n) fails (\(fault)\(sticky ? ", for ever" : ""))"
            var thrown: PogrebError?
            do {
                if let source = world.source {
                    _ = try source.backup(to: path, replacing: job.replaces, tree: tree, staging: wrap)
                } else {
                    _ = try Database.build(at: path, options: options, from: world.newPairs, tree: tree, wrap: wrap)
                }
            } catch {
                thrown = error
            }
            let met: Bool
            switch place {
            case .staging: met = stagingFaults?.hasFailed ?? false
            case .tree: met = tree.hasFailed
            case .source: met = world.sourceFaults!.hasFailed
            }
            tree.disarm()
            world.sourceFaults?.disarm()
            stagingFaults?.disarm()
            if !met {
                if let thrown { tally.violation("the call failed with no fault met: \(thrown). \(context)") }
                return
            }
            tally.runs += 1
            tally.faultsMet += 1
            var row = tally.rows["\(place)", default: (0, 0, 0)]
            row.runs += 1
            row.met += 1
            if thrown == nil {
                tally.absorbed += 1
                row.absorbed += 1
            }
            tally.rows["\(place)"] = row
            let unsyncedParent = thrown?.message.contains("could not be synced") ?? false
            if let thrown, thrown.code != .io && thrown.code != .previousIOFailure {
                tally.violation("the call threw \(thrown), not an I/O error. \(context)")
            }
            let newAllowed = thrown == nil || unsyncedParent
            let live = Dictionary(uniqueKeysWithValues: world.tree.names.map { ($0, world.tree.directory($0)!) })
            checkParent(live, world: world, newAllowed: newAllowed, options: options, tally: tally, context)
            var lost = ExhaustiveChooser()
            checkParent(
                world.tree.crashImage(choosing: &lost), world: world, newAllowed: newAllowed, options: options,
                tally: tally, context + ", then a power cut" + (unsyncedParent ? " [unsynced parent]" : ""))
            if let source = world.source {
                var ownFault = false
                if case .source = place { ownFault = true }
                try checkSource(source, world: world, ownFault: ownFault, options: options, tally: tally, context)
            }
            n += 1
        }
        tally.violation("\(job), \(place): never completed")
    }

    /// The source of a backup still holds its data and takes a write, or refuses writes after a
    /// failure of its own storage and reopens holding its data.
    static func checkSource(
        _ source: Database, world: World, ownFault: Bool, options: Options, tally: Tally, _ context: String
    ) throws {
        do {
            var found: [[UInt8]: [UInt8]] = [:]
            try source.forEachItem { found[$0.key] = $0.value }
            if found != world.new { tally.violation("the source changed: \(found.count) keys. \(context)") }
            try source.put(key(1000), bytes("after"))
            if try source.get(key(1000)) != bytes("after") { tally.violation("the source lost a write. \(context)") }
        } catch let error as PogrebError {
            guard ownFault, error.code == .previousIOFailure || error.code == .io else {
                tally.violation("the source failed: \(error). \(context)")
                return
            }
            for image in [world.sourceFiles!.copy(), world.sourceFiles!.crashImage()] {
                do {
                    var found = try contents(of: image, options: options)
                    found[key(1000)] = nil
                    if found != world.new {
                        tally.violation("the reopened source holds \(found.count) keys. \(context)")
                    }
                } catch {
                    tally.violation("the source does not reopen: \(error). \(context)")
                }
            }
        }
    }

    /// The faults tried for each kind: `EIO` for every kind, and a short write for writes; with
    /// `POGREB_LONG_TESTS=1` also `ENOSPC` for every kind (the engine handles both errnos alike).
    static let fileFaults: [(FileOperation, [Fault])] = FileOperation.allCases.map {
        ($0, ($0 == .write ? [.eio, .shortWrite] : [.eio]) + (longTestsEnabled ? [.enospc] : []))
    }
    static let treeFaults: [Fault] = longTestsEnabled ? [.eio, .enospc] : [.eio]

    @Test func everyFaultPointOfABackupOrABulkBuildLeavesTheSourceAndThePathWhole() throws {
        var options = Options()
        Self.options(&options)
        let tally = Tally()
        for job in Job.allCases {
            // For ever after: the replacing jobs (whose clean-up after a failure does the most);
            // every job with `POGREB_LONG_TESTS=1`.
            for sticky in job.replaces || longTestsEnabled ? [false, true] : [false] {
                for (operation, faults) in Self.fileFaults where FileOperation.changing.contains(operation) {
                    for fault in faults {
                        try Self.campaign(
                            job, .staging(operation), fault: fault, sticky: sticky, options: options, tally: tally)
                    }
                }
                for operation in TreeOperation.allCases {
                    for fault in Self.treeFaults {
                        try Self.campaign(
                            job, .tree(operation), fault: fault, sticky: sticky, options: options, tally: tally)
                    }
                }
                guard job.isBackup else { continue }
                for (operation, faults) in Self.fileFaults {
                    for fault in faults {
                        try Self.campaign(
                            job, .source(operation), fault: fault, sticky: sticky, options: options, tally: tally)
                    }
                }
            }
        }
        let rows = tally.rows.sorted { $0.key < $1.key }.map {
            "  \($0.key): \($0.value.met) faults met, \($0.value.absorbed) absorbed"
        }
        print(
            "backup and bulk build fault points: \(tally.faultsMet) faults met in \(tally.runs) runs, "
                + "\(tally.absorbed) absorbed, \(tally.violations) violations\n" + rows.joined(separator: "\n"))
        #expect(tally.violations == 0)
        #expect(tally.faultsMet > 100)
    }

    @Test func everyFaultPointOfARepairLeavesADatabaseThatOpensOrRepairsAgain() throws {
        var options = Options()
        Self.options(&options)
        let files = MemoryFileSystem()
        let db = try Database.open(fileSystem: files, options: options)
        var model: [[UInt8]: [UInt8]] = [:]
        for (k, v) in Self.pairs(0..<90, version: 0) {
            try db.put(k, v)
            model[k] = v
        }
        for i in stride(from: 0, to: 90, by: 7) {
            try db.delete(key(i))
            model[key(i)] = nil
        }
        try db.close()
        var met = 0
        var runs = 0
        var violations = 0
        var rows: [String] = []
        for sticky in [false, true] {
            for (operation, faults) in Self.fileFaults {
                for fault in faults {
                    var n = 1
                    var kindMet = 0
                    while n < 400 {
                        let image = files.copy()
                        let faulty = FaultInjectingFileSystem(wrapping: image)
                        faulty.arm([operation], failingAt: n, sticky: sticky, fault: fault)
                        let context = "repair, \(operation) #\(n) fails (\(fault)\(sticky ? ", for ever" : ""))"
                        var thrown: PogrebError?
                        do { _ = try Database.repair(fileSystem: faulty) } catch { thrown = error }
                        guard faulty.hasFailed else {
                            if let thrown {
                                violations += 1
                                Issue.record(
                                    Comment(rawValue: "the repair failed with no fault met: \(thrown). \(context)"))
                            }
                            break
                        }
                        runs += 1
                        met += 1
                        kindMet += 1
                        if let thrown, thrown.code != .io {
                            violations += 1
                            Issue.record(Comment(rawValue: "the repair threw \(thrown). \(context)"))
                        }
                        for (what, after) in [("as left", image.copy()), ("after a power cut", image.crashImage())] {
                            var found: [[UInt8]: [UInt8]]?
                            do { found = try Self.contents(of: after, options: options) } catch {
                                do {
                                    _ = try Database.repair(fileSystem: after)
                                    found = try Self.contents(of: after, options: options)
                                } catch {
                                    violations += 1
                                    Issue.record(
                                        Comment(rawValue: "\(what), neither opens nor repairs: \(error). \(context)"))
                                }
                            }
                            if let found, found != model {
                                violations += 1
                                Issue.record(Comment(rawValue: "\(what), holds \(found.count) keys. \(context)"))
                            }
                        }
                        n += 1
                    }
                    if n >= 400 {
                        violations += 1
                        Issue.record("repair, \(operation): never completed")
                    }
                    rows.append("  \(operation) (\(fault)\(sticky ? ", for ever" : "")): \(kindMet)")
                }
            }
        }
        print(
            "repair fault points: \(met) faults met in \(runs) runs, \(violations) violations\n"
                + rows.joined(separator: "\n"))
        #expect(violations == 0)
        #expect(met > 20)
    }
}
