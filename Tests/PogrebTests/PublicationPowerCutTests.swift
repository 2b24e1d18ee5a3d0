import PogrebTestSupport
import Testing

@testable import Pogreb

/// Power cuts at every sync point of publishing a backup or a bulk build
/// (`Directory/PublishTarget.swift`): the copy made in a staging directory beside the path, its
/// rename or exchange into place, the `fsync` of the parent, and the disposal of a replaced
/// database. The parent directory is a ``MemoryDirectoryTree``, whose operations since its last
/// `fsync` are each kept or lost by a power cut, as are the files and entries of every directory
/// in it. In every state: the path holds nothing (when nothing was there), the old complete
/// database, or the new one — and only the new one once the call has returned; it opens without
/// repair and holds exactly its data; the user's directory beside it and the dot-file in the old
/// database survive unaltered; nothing else is there but staging directories holding only our
/// files and dot-files.
@Suite struct PublicationPowerCutTests {
    static let root = "/data"
    static let path = "/data/db"
    static let notes: [UInt8] = Array("the user's notes, kept across replacements".utf8)
    static let papers: [UInt8] = Array("the user's papers, beside the database".utf8)

    /// What is published, and onto what.
    enum Scenario: String, CaseIterable, CustomStringConvertible {
        case backupToANewPath, backupReplacingABackup, buildAtANewPath, buildOverAnEmptyDirectory
        case buildReplacingADatabase

        var description: String { rawValue }
        var isBackup: Bool { self == .backupToANewPath || self == .backupReplacingABackup }
        var replaces: Bool { self == .backupReplacingABackup || self == .buildReplacingADatabase }
    }

    /// The test's view of one publication, read by the sync observer, which runs on the thread of
    /// the call that syncs.
    final class Campaign: @unchecked Sendable {
        // @unchecked Sendable: one thread runs the publication and, inside it, the observer.
        let tree: MemoryDirectoryTree
        let options: Options
        let label: String
        var generator: SeededGenerator
        /// The database at the path before, or nil when nothing or an empty directory was there.
        var old: [[UInt8]: [UInt8]]?
        var oldWasEmptyDirectory = false
        var new: [[UInt8]: [UInt8]] = [:]
        /// Whether the call returned: from then on only the new database may be at the path.
        var returned = false
        var syncPoints = 0
        var statesChecked = 0
        var exhaustivePoints = 0
        var failures = 0
        /// States by what the path held: absent, an empty directory, the old or the new database.
        var outcomes: [String: Int] = [:]

        init(tree: MemoryDirectoryTree, options: Options, label: String, generator: SeededGenerator) {
            self.tree = tree
            self.options = options
            self.label = label
            self.generator = generator
        }

        /// Checks every crash state of the tree when there are at most `exhaustiveLimit`, else the
        /// all-lost state and six seeded samples.
        func checkStates(at point: String, exhaustiveLimit: Int = 512) {
            syncPoints += 1
            var walker = ExhaustiveChooser()
            var image = tree.crashImage(choosing: &walker)
            if walker.combinations(upTo: exhaustiveLimit) != nil {
                exhaustivePoints += 1
                repeat {
                    check(image, "\(label), before the \(point), state \(statesChecked) (exhaustive)")
                    guard walker.advance() else { break }
                    image = tree.crashImage(choosing: &walker)
                } while true
            } else {
                check(image, "\(label), before the \(point), everything unsynced lost")
                for sample in 0..<6 {
                    var chooser = RandomChooser(generator.fork())
                    let seed = chooser.generator.seed
                    check(
                        tree.crashImage(choosing: &chooser),
                        "\(label), before the \(point), sample \(sample) (chooser seed \(seed))")
                }
            }
        }

        private func fail(_ message: String, _ context: String) {
            failures += 1
            Issue.record(Comment(rawValue: "\(message). \(context); seed \(generator.seed)"))
        }

        private func check(_ image: [String: MemoryFileSystem], _ context: String) {
            statesChecked += 1
            // The user's directory beside the path, unaltered.
            if image["papers"]?.contents(of: "notes.txt") != PublicationPowerCutTests.papers {
                fail("the user's directory papers/ lost or changed its file", context)
            }
            // Nothing but the path, the user's directory and staging directories of ours.
            var notesFound = old == nil
            for (name, directory) in image where name != "papers" {
                if directory.contents(of: ".notes") == PublicationPowerCutTests.notes { notesFound = true }
                guard name != "db" else { continue }
                guard name.hasPrefix("db.backup-") || name.hasPrefix("db.building-") else {
                    fail("an entry \(name) appeared in the parent", context)
                    continue
                }
                let foreign = ((try? directory.listFiles()) ?? []).filter {
                    !$0.hasPrefix(".") && !DatabaseFiles.isOurs($0)
                }
                if !foreign.isEmpty { fail("the staging directory \(name) holds \(foreign)", context) }
            }
            if !notesFound { fail("the dot-file .notes of the replaced database is nowhere", context) }
            // The path: absent, the old database or the new one.
            guard let destination = image["db"] else {
                outcomes["absent", default: 0] += 1
                if old != nil || oldWasEmptyDirectory || returned { fail("the path holds nothing", context) }
                return
            }
            let names = ((try? destination.listFiles()) ?? []).filter { !$0.hasPrefix(".") }
            if names.isEmpty {
                outcomes["empty directory", default: 0] += 1
                if !oldWasEmptyDirectory || returned { fail("the path is an empty directory", context) }
                return
            }
            do {
                let db = try Database.open(fileSystem: destination, options: options)
                defer { abandon(db) }
                var contents: [[UInt8]: [UInt8]] = [:]
                try db.forEachItem { contents[$0.key] = $0.value }
                if contents == new {
                    outcomes["new database", default: 0] += 1
                    if statesChecked % 8 == 1 { try checkInvariants(db) }
                } else if let old, contents == old, !returned {
                    outcomes["old database", default: 0] += 1
                } else {
                    fail(
                        "the path holds a database of \(contents.count) keys, neither the old (\(old?.count ?? 0)) "
                            + "nor the new (\(new.count))" + (returned ? " after the call returned" : ""), context)
                }
            } catch {
                fail("the database at the path does not open: \(error)", context)
            }
        }
    }

    static func options(_ options: inout Options) {
        PowerCutStateTests.options(&options)
    }

    static func pairs(_ range: Range<Int>, version: Int) -> [([UInt8], [UInt8])] {
        range.map { (key($0), value($0, version: version, length: $0 % 7 == 0 ? 3000 : 120)) }
    }

    /// Runs one scenario: sets the tree up (the user's `papers/` beside the path, and for the
    /// replacing scenarios an old database holding a dot-file), all durable; then publishes with
    /// every sync point checked, and checks once more after the call returned.
    static func run(_ scenario: Scenario, generator: SeededGenerator) throws -> Campaign {
        var options = Options()
        Self.options(&options)
        let tree = MemoryDirectoryTree(root: root)
        try tree.makeDirectory(root + "/papers")
        tree.directory("papers")!.setContents(of: "notes.txt", to: papers)
        let campaign = Campaign(tree: tree, options: options, label: "\(scenario)", generator: generator)
        let oldPairs = pairs(0..<200, version: 0)
        let newPairs = pairs(100..<320, version: 1)
        var source: Database?
        defer { if let source { abandon(source) } }
        if scenario.isBackup {
            let db = try Database.open(fileSystem: MemoryFileSystem(displayPath: "memory:/source"), options: options)
            source = db
            for (k, v) in oldPairs { try db.put(k, v) }
            if scenario.replaces { _ = try db.backup(to: path, replacing: false, tree: tree) { $0 } }
            for (k, v) in newPairs { try db.put(k, v) }
            try db.delete(key(3))
        } else if scenario.replaces {
            _ = try Database.build(at: path, options: options, from: oldPairs, tree: tree) { $0 }
        } else if scenario == .buildOverAnEmptyDirectory {
            try tree.makeDirectory(path)
            campaign.oldWasEmptyDirectory = true
        }
        if scenario.replaces {
            tree.directory("db")!.setContents(of: ".notes", to: notes)
            campaign.old = Dictionary(oldPairs, uniquingKeysWith: { $1 })
        }
        tree.makeDurable()
        var expected = Dictionary(newPairs, uniquingKeysWith: { $1 })
        if scenario.isBackup {
            for (k, v) in oldPairs where expected[k] == nil { expected[k] = v }
            expected[key(3)] = nil
        }
        campaign.new = expected

        tree.onSync { [campaign] point in campaign.checkStates(at: point) }
        if let source {
            let report = try source.backup(to: path, replacing: scenario.replaces, tree: tree) { $0 }
            #expect(report.replacedExisting == scenario.replaces)
            #expect(report.oldDatabaseLeftAt == nil)
        } else {
            let report = try Database.build(at: path, options: options, from: newPairs, tree: tree) { $0 }
            #expect(report.replacedExisting == scenario.replaces)
            #expect(report.keys == newPairs.count)
        }
        tree.onSync(nil)
        campaign.returned = true
        campaign.checkStates(at: "end (the call returned)")
        #expect(tree.names == ["db", "papers"], "\(scenario): the parent holds \(tree.names) after the call")
        if scenario.replaces {
            #expect(tree.directory("db")?.contents(of: ".notes") == notes, "\(scenario): .notes did not move")
        }
        return campaign
    }

    /// The dot-entries of a replaced database are moved into the new one, then the old one is
    /// removed and the parent synced. The new directory was not synced after the moves, so a
    /// power cut after the call returned could keep the removal and lose the moved entries.
    @Test func theDotFilesOfAReplacedDatabaseSurviveAPowerCutAfterTheSwitch() throws {
        var options = Options()
        Self.options(&options)
        let tree = MemoryDirectoryTree(root: Self.root)
        _ = try Database.build(at: Self.path, options: options, from: Self.pairs(0..<50, version: 0), tree: tree) { $0 }
        tree.directory("db")!.setContents(of: ".notes", to: Self.notes)
        tree.makeDurable()
        _ = try Database.build(at: Self.path, options: options, from: Self.pairs(0..<60, version: 1), tree: tree) { $0 }
        var lost = ExhaustiveChooser()  // every answer 0: everything not synced is lost
        let image = tree.crashImage(choosing: &lost)
        #expect(image["db"]?.contents(of: ".notes") == Self.notes, "after a power cut: \(image.keys.sorted())")
    }

    @Test func everyPowerCutDuringAPublicationLeavesTheOldOrTheNewDatabase() throws {
        var generator = SeededGenerator.make("publication power cuts")
        var lines: [String] = []
        var totals = (points: 0, states: 0, exhaustive: 0, failures: 0)
        for scenario in Scenario.allCases {
            let campaign = try Self.run(scenario, generator: generator.fork())
            totals.points += campaign.syncPoints
            totals.states += campaign.statesChecked
            totals.exhaustive += campaign.exhaustivePoints
            totals.failures += campaign.failures
            let outcomes = campaign.outcomes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
            lines.append(
                "  \(scenario): \(campaign.syncPoints) sync points (\(campaign.exhaustivePoints) exhaustive), "
                    + "\(campaign.statesChecked) states (\(outcomes.joined(separator: ", "))), "
                    + "\(campaign.failures) failures")
            #expect(campaign.syncPoints >= 4, "\(scenario): only \(campaign.syncPoints) sync points")
        }
        print(
            "publication power cuts (seed \(generator.seed)): \(totals.points) sync points, \(totals.states) crash "
                + "states checked (\(totals.exhaustive) sync points enumerated exhaustively), \(totals.failures) failures\n"
                + lines.joined(separator: "\n"))
        #expect(totals.failures == 0)
    }
}
