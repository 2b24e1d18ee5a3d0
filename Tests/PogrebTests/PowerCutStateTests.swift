import PogrebTestSupport
import Synchronization
import Testing

@testable import Pogreb

/// Power cuts at every sync point of a scripted workload, in the most general states the
/// simulator makes (``MemoryFileSystem/crashImage(choosing:)``): unsynced writes kept in any
/// order and torn at 512-byte sectors, directory operations since the last directory sync lost or
/// kept one by one. Each state must open without repair and hold one of the states the database
/// went through since its last durability point: everything synced, nothing never written,
/// batches whole or absent.
@Suite struct PowerCutStateTests {
    /// The test's view of the workload, read by the sync observer, which runs on the thread of
    /// the database call that syncs.
    final class Campaign: @unchecked Sendable {
        // @unchecked Sendable: one thread runs the workload and, inside its calls, the observer.
        var timeline = CrashConsistencyTests.Timeline()
        /// The state the call in progress will produce, if it completes.
        var inFlight: ReferenceModel?
        var generator: SeededGenerator
        let options: Options
        var syncPoints = 0
        var statesChecked = 0
        var exhaustivePoints = 0
        var failures = 0
        /// Backups and bulk builds whose crash image was opened and compared.
        var copiesChecked = 0
        var label = ""

        /// Checks that `image` (a finished backup or bulk build after a power cut) opens and
        /// holds exactly the current state.
        func checkCopy(_ image: MemoryFileSystem, _ what: String) throws {
            var only = CrashConsistencyTests.Timeline()
            only.states = [timeline.current]
            if try CrashConsistencyTests.checkRecovered(
                image, only, options: options, Comment(rawValue: "\(label), \(what); seed \(generator.seed)")) == nil
            {
                failures += 1
            }
        }

        init(generator: SeededGenerator, options: Options) {
            self.generator = generator
            self.options = options
        }

        /// The states a crash image taken now may recover to.
        var allowed: CrashConsistencyTests.Timeline {
            var allowed = timeline
            if let inFlight { allowed.record(inFlight) }
            return allowed
        }

        /// Checks every crash state of `fs` when there are at most `exhaustiveLimit` of them,
        /// `samples` random ones otherwise.
        func checkStates(of fs: MemoryFileSystem, at point: MemoryFileSystem.SyncPoint, exhaustiveLimit: Int = 24) {
            syncPoints += 1
            let allowed = self.allowed
            var walker = ExhaustiveChooser()
            var image = fs.crashImage(choosing: &walker)
            if walker.combinations(upTo: exhaustiveLimit) != nil {
                exhaustivePoints += 1
                repeat {
                    check(image, allowed, "\(label), before the \(point), state \(statesChecked) (exhaustive)")
                    guard walker.advance() else { break }
                    image = fs.crashImage(choosing: &walker)
                } while true
            } else {
                check(image, allowed, "\(label), before the \(point), all unsynced writes dropped")
                for sample in 0..<3 {
                    var chooser = RandomChooser(generator.fork())
                    let seed = chooser.generator.seed
                    check(
                        fs.crashImage(choosing: &chooser), allowed,
                        "\(label), before the \(point), sample \(sample) (chooser seed \(seed))")
                }
            }
        }

        private func check(_ image: MemoryFileSystem, _ allowed: CrashConsistencyTests.Timeline, _ context: String) {
            statesChecked += 1
            do {
                let index = try CrashConsistencyTests.checkRecovered(
                    image, allowed, options: options, thorough: statesChecked % 16 == 1,
                    Comment(rawValue: context + "; seed \(generator.seed)"))
                if index == nil { failures += 1 }
            } catch {
                failures += 1
                Issue.record(
                    Comment(rawValue: "the crash state does not open: \(error). \(context); seed \(generator.seed)"))
            }
        }
    }

    static func options(_ options: inout Options) {
        CrashConsistencyTests.options(&options)
        options.segmentSize = 1 << 20  // the smallest allowed; large values make rotations
        options.writeBufferSize = 2 << 10
        options.checkpointDirtyBuckets = 48
    }

    @Test func everySyncPointOfAScriptedWorkloadRecovers() throws {
        let campaign = try Self.run(operations: 500, label: "power cuts")
        #expect(campaign.failures == 0)
        #expect(campaign.exhaustivePoints > 0, "no sync point was small enough to enumerate")
    }

    /// Every crash state at every sync point of creating a database, enumerated exhaustively:
    /// each opens as an empty database. Creation once published its checkpoint without making
    /// the index's directory entry durable first, so a power cut could keep the checkpoint's
    /// rename and lose `index.pgi` (seen by the sampled workload above, with some seeds only).
    @Test func everyPowerCutDuringCreationLeavesADatabaseThatOpens() throws {
        var options = Options()
        Self.options(&options)
        let campaign = Campaign(generator: SeededGenerator.make("creation power cuts"), options: options)
        campaign.label = "creation"
        let fs = MemoryFileSystem()
        fs.onSync { [campaign, fs] point in campaign.checkStates(of: fs, at: point, exhaustiveLimit: 1 << 16) }
        let db = try Database.open(fileSystem: fs, options: options)
        fs.onSync(nil)
        abandon(db)
        print("creation: \(campaign.syncPoints) sync points, \(campaign.statesChecked) crash states checked")
        #expect(campaign.failures == 0)
        #expect(campaign.syncPoints >= 4)
        #expect(campaign.exhaustivePoints == campaign.syncPoints, "a sync point had too many states to enumerate")
    }

    @Test(.enabled(if: longTestsEnabled, "set POGREB_LONG_TESTS=1"))
    func everySyncPointOfALongScriptedWorkloadRecovers() throws {
        let campaign = try Self.run(operations: 5000, label: "long power cuts")
        #expect(campaign.failures == 0)
    }

    /// Runs the workload: puts (some large), deletes, batches, syncs, checkpoints, compactions
    /// (with small segments, so rotations too), backups and bulk builds (each copy reopened after
    /// a power cut), and now and then a crash state opened with the observer on, so that
    /// recovery's own sync points are checked as well.
    static func run(operations: Int, label: String) throws -> Campaign {
        var options = Options()
        Self.options(&options)
        let campaign = Campaign(generator: SeededGenerator.make(label), options: options)
        campaign.label = label
        let fs = MemoryFileSystem()
        fs.onSync { [campaign, fs] point in campaign.checkStates(of: fs, at: point) }
        let db = try Database.open(fileSystem: fs, options: options)
        defer { abandon(db) }
        var batchID = 0
        for n in 0..<operations {
            campaign.label = "\(label), operation \(n)"
            var model = campaign.timeline.current
            let k = key(Int.random(in: 0..<200, using: &campaign.generator))
            let choice = Int.random(in: 0..<100, using: &campaign.generator)
            switch choice {
            case 0..<50:
                let length = Int.random(in: 0..<(choice < 10 ? 60_000 : 400), using: &campaign.generator)
                let v = value(n, length: length)
                model.put(k, v)
                campaign.inFlight = model
                try db.put(k, v)
                campaign.timeline.record(model)
            case 50..<62:
                model.delete(k)
                campaign.inFlight = model
                try db.delete(k)
                campaign.timeline.record(model)
            case 62..<77:
                batchID += 1
                var batch = WriteBatch()
                for j in 0..<Int.random(in: 2...6, using: &campaign.generator) {
                    let bk = key(Int.random(in: 0..<200, using: &campaign.generator))
                    if j % 3 == 2 {
                        batch.delete(bk)
                        model.delete(bk)
                    } else {
                        let v = bytes("batch-\(batchID)-\(j)") + value(n, length: 100)
                        batch.put(bk, v)
                        model.put(bk, v)
                    }
                }
                campaign.inFlight = model
                try db.apply(batch)
                campaign.timeline.record(model)
            case 77..<87:
                campaign.inFlight = nil
                try db.sync()
                campaign.timeline.makeDurable()
            case 87..<91:
                campaign.inFlight = nil
                try db.checkpoint()
                campaign.timeline.makeDurable()
            case 91..<94:
                campaign.inFlight = nil
                if try db.compact().segmentsCompacted > 0 { campaign.timeline.makeDurable() }
            case 94..<96:
                // Recovery's own sync points: open a crash state with the observer on it.
                var chooser = RandomChooser(campaign.generator.fork())
                let image = fs.crashImage(choosing: &chooser)
                campaign.label = "\(label), operation \(n), recovery of a crash state"
                image.onSync { [campaign, image] point in campaign.checkStates(of: image, at: point) }
                do {
                    let recovered = try Database.open(fileSystem: image, options: options)
                    abandon(recovered)
                } catch {
                    campaign.failures += 1
                    Issue.record("a crash state does not open: \(error); seed \(campaign.generator.seed)")
                }
                image.onSync(nil)
            case 96:
                // A backup: its checkpoint is a sync point of the source like any other; once it
                // returns, a power cut (unsynced writes dropped) leaves the copy whole, holding
                // exactly the data as of the call.
                campaign.inFlight = nil
                let destination = MemoryFileSystem(displayPath: "memory:/backup")
                try db.backup(to: destination)
                campaign.timeline.makeDurable()
                campaign.copiesChecked += 1
                try campaign.checkCopy(destination.crashImage(), "backup")
            case 97:
                // A bulk build of the current data into a directory of its own; once `finish()`
                // returns, a power cut leaves it whole. (Its publication, a directory rename or
                // exchange, is not modelled by the memory file system.)
                let target = MemoryFileSystem(displayPath: "memory:/built")
                var builder = try BulkBuilder(fileSystem: target, options: options, expectedCount: model.count)
                for (bk, bv) in model.entries { try builder.add(key: bk, value: bv) }
                _ = try builder.finish()
                campaign.copiesChecked += 1
                try campaign.checkCopy(target.crashImage(), "bulk build")
            default:
                _ = try db.get(k)
            }
        }
        fs.onSync(nil)
        print(
            "\(label): \(campaign.syncPoints) sync points, \(campaign.statesChecked) crash states checked "
                + "(\(campaign.exhaustivePoints) sync points enumerated exhaustively), \(campaign.copiesChecked) "
                + "backups and bulk builds reopened after a power cut, \(campaign.failures) failures")
        #expect(campaign.syncPoints > 50)
        #expect(campaign.copiesChecked > 0 || operations < 500, "the workload made no backup and no bulk build")
        return campaign
    }
}
