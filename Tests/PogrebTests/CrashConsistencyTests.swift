import PogrebTestSupport
import Testing
@testable import Pogreb

/// Power cuts at many points, simulated with ``MemoryFileSystem/crashImage(keepingUnsyncedWrites:)``:
/// what was synced survives exactly, nothing appears that was never written, batches are all or
/// nothing, and a crash in the middle of a checkpoint, a compaction or a recovery leaves a
/// database that opens.
@Suite struct CrashConsistencyTests {
    /// The states a recovered database may be in: the model after each operation since the last
    /// durability point (a `sync`, a checkpoint or a compaction), oldest first. The log is
    /// replayed in order and batches are atomic, so a recovered database must equal one of them.
    struct Timeline {
        var states: [ReferenceModel] = [ReferenceModel()]
        var current: ReferenceModel { states[states.count - 1] }

        mutating func record(_ model: ReferenceModel) { states.append(model) }
        /// Everything so far is durable: earlier states can no longer be recovered.
        mutating func makeDurable() { states = [current] }
    }

    static func options(_ options: inout Options) {
        smallOptions(&options)
        options.writeBufferSize = 4 << 10
        options.checkpointDirtyBuckets = 96
        options.compactionMinDeadBytes = 32 << 10
        options.compactionMinDeadFraction = 0.3
    }

    /// Opens `image` and checks that it holds one of `timeline`'s states; returns its index.
    /// With `thorough`, checks every invariant too (``checkInvariants(_:model:)``); otherwise the
    /// count and the values of a sample of keys.
    @discardableResult
    static func checkRecovered(
        _ image: MemoryFileSystem, _ timeline: Timeline, options: Options, thorough: Bool = true, _ context: Comment
    ) throws -> Int? {
        let db = try Database.open(fileSystem: image, options: options)
        defer { abandon(db) }
        var contents: [[UInt8]: [UInt8]] = [:]
        try db.forEachItem { contents[$0.key] = $0.value }
        if !thorough {
            #expect(try db.count == contents.count, context)
            for (k, v) in contents.prefix(20) { #expect(try db.get(k) == v, context) }
        }
        guard let index = timeline.states.lastIndex(where: { $0.entries == contents }) else {
            let durable = timeline.states[0]
            let lost = durable.entries.filter { key, _ in
                timeline.states.allSatisfy { $0.get(key) != nil } && contents[key] == nil
            }
            Issue.record(
                Comment(
                    rawValue:
                        "the recovered database (\(contents.count) keys) is none of the \(timeline.states.count) states "
                        + "since the last sync (\(durable.count)…\(timeline.current.count) keys); \(lost.count) keys "
                        + "present in all of them are missing. \(context)")
            )
            return nil
        }
        if thorough { try checkInvariants(db, model: timeline.states[index]) }
        return index
    }

    @Test func randomWritesSurviveCrashImages() throws {
        var generator = SeededGenerator.make("crash images")
        try Self.randomWritesSurviveCrashImages(operations: 3000, generator: &generator)
    }

    @Test(.enabled(if: longTestsEnabled, "set POGREB_LONG_TESTS=1"))
    func longRandomWritesSurviveCrashImages() throws {
        var generator = SeededGenerator.make("long crash images")
        for _ in 0..<6 {
            var run = generator.fork()
            print("sub-run seed: \(run.seed)")
            try Self.randomWritesSurviveCrashImages(operations: 20_000, generator: &run)
        }
    }

    static func randomWritesSurviveCrashImages(operations: Int, generator: inout SeededGenerator) throws {
        var options = Options()
        Self.options(&options)
        let fs = MemoryFileSystem()
        let db = try Database.open(fileSystem: fs, options: options)
        defer { try? db.close() }
        var timeline = Timeline()
        var batchID = 0
        var crashes = 0
        var recoveredStates: [Int: Int] = [:]
        for n in 0..<operations {
            var model = timeline.current
            let k = key(Int.random(in: 0..<500, using: &generator))
            switch Int.random(in: 0..<100, using: &generator) {
            case 0..<55:
                let v = value(
                    n, version: 0,
                    length: Int.random(
                        in: 0..<(Int.random(in: 0..<10, using: &generator) == 0 ? 6000 : 600), using: &generator))
                try db.put(k, v)
                model.put(k, v)
                timeline.record(model)
            case 55..<70:
                #expect(try db.delete(k) == model.delete(k))
                timeline.record(model)
            case 70..<85:
                // A batch: several keys, each tagged with the batch, so a torn batch shows.
                batchID += 1
                var batch = WriteBatch()
                for j in 0..<Int.random(in: 2...8, using: &generator) {
                    let bk = key(Int.random(in: 0..<500, using: &generator))
                    if j % 4 == 3 {
                        batch.delete(bk)
                        model.delete(bk)
                    } else {
                        let v =
                            bytes("batch-\(batchID)-\(j)") + generator.bytes(Int.random(in: 0..<200, using: &generator))
                        batch.put(bk, v)
                        model.put(bk, v)
                    }
                }
                try db.apply(batch)
                timeline.record(model)
            case 85..<92:
                try db.sync()
                timeline.makeDurable()
            case 92..<94:
                try db.checkpoint()
                timeline.makeDurable()
            case 94..<95:
                let result = try db.compact()
                if result.segmentsCompacted > 0 { timeline.makeDurable() }
            default:
                _ = try db.get(k)
            }
            if n % 50 == 49 {
                for unsynced in UnsyncedWrites.allCases {
                    let image = fs.crash(unsynced, using: &generator)
                    let index = try Self.checkRecovered(
                        image, timeline, options: options, thorough: n % 300 == 49,
                        "operation \(n), unsynced writes \(unsynced), seed \(generator.seed)")
                    if let index {
                        recoveredStates[index == 0 ? 0 : (index == timeline.states.count - 1 ? 2 : 1), default: 0] += 1
                    }
                    crashes += 1
                }
            }
        }
        // Synced state only, a later state, the newest: all three happen.
        print(
            "crash images: \(crashes); recovered the synced state \(recoveredStates[0] ?? 0)×, an intermediate one "
                + "\(recoveredStates[1] ?? 0)×, the newest \(recoveredStates[2] ?? 0)×"
        )
        #expect(crashes > 100)
        #expect(try db.statistics.segments.count > 1 || db.statistics.compactions > 0)
    }

    /// The scenario of the step-by-step crash tests: a database with a tail after its checkpoint,
    /// synced, and dead records for compaction to reclaim. Returns the file system and the state.
    static func scenario(
        _ options: Options, keys: Int, generator: inout SeededGenerator
    ) throws -> (MemoryFileSystem, ReferenceModel) {
        let fs = MemoryFileSystem()
        let db = try Database.open(fileSystem: fs, options: options)
        var model = ReferenceModel()
        for i in 0..<keys {
            let v = value(i, length: Int.random(in: 400...1600, using: &generator))
            try db.put(key(i), v)
            model.put(key(i), v)
        }
        for i in 0..<keys where i % 5 != 0 {
            if i % 3 == 0 {
                try db.delete(key(i))
                model.delete(key(i))
            } else {
                try db.put(key(i), value(i, version: 1))
                model.put(key(i), value(i, version: 1))
            }
        }
        try db.close()
        return (fs, model)
    }

    /// Stops `operation` at its `step`th change of storage (and every change after it), for
    /// every step until it completes, and checks the crash images of each stop.
    static func crashAtEveryStep(
        _ label: String, options: Options, keys: Int, allModesEveryStep: Bool = true, generator: inout SeededGenerator,
        prepare: (Database, inout ReferenceModel) throws -> Void,
        operation: (Database) throws -> Void
    ) throws -> Int {
        let (base, initial) = try scenario(options, keys: keys, generator: &generator)
        var step = 1
        while step < 2000 {
            let fs = base.copy()
            let faulty = FaultInjectingFileSystem(wrapping: fs)
            let db = try Database.open(fileSystem: faulty, options: options)
            var model = initial
            try prepare(db, &model)
            try db.sync()
            faulty.failNthStep(step, sticky: true)
            let error = pogrebError { try operation(db) }
            if !faulty.hasFailed {
                #expect(error == nil, "\(label) without a failure: \(error.map { "\($0)" } ?? "")")
                abandon(db)
                return step - 1
            }
            #expect(error != nil, "\(label) stopped at step \(step) (\(faulty.failures.first ?? "")) but did not throw")
            abandon(db)
            // All the ways of treating unsynced writes, or (to save time) one in turn and all of
            // them every eighth step.
            let modes =
                allModesEveryStep || step % 8 == 1 ? UnsyncedWrites.allCases : [UnsyncedWrites.allCases[step % 3]]
            for unsynced in modes {
                let image = fs.crash(unsynced, using: &generator)
                var timeline = Timeline()
                timeline.states = [model]
                let context: Comment =
                    "\(label) stopped at step \(step): \(faulty.failures.first ?? ""); unsynced writes \(unsynced); seed \(generator.seed)"
                do {
                    try checkRecovered(image, timeline, options: options, thorough: step % 8 == 1, context)
                } catch {
                    Issue.record("\(error). \(context)")
                }
            }
            step += 1
        }
        Issue.record("\(label) did not finish within 2000 steps")
        return step
    }

    @Test func crashDuringACheckpointAtEveryStep() throws {
        var generator = SeededGenerator.make("crash in checkpoint")
        var options = Options()
        Self.options(&options)
        options.checkpointDirtyBuckets = 1 << 20
        let steps = try Self.crashAtEveryStep(
            "checkpoint", options: options, keys: 300, generator: &generator,
            prepare: { db, model in
                for i in 2000..<2040 {
                    try db.put(key(i), value(i))
                    model.put(key(i), value(i))
                }
                try db.delete(key(0))
                model.delete(key(0))
            }, operation: { db in try db.checkpoint() })
        #expect(steps >= 6, "a checkpoint takes \(steps) steps")
        print("a checkpoint took \(steps) steps")
    }

    @Test func crashDuringTheFirstCheckpointAtEveryStep() throws {
        // The first checkpoint after creation also creates the other journal slot.
        var generator = SeededGenerator.make("crash in first checkpoint")
        var options = Options()
        Self.options(&options)
        var step = 1
        while step < 200 {
            let fs = MemoryFileSystem()
            let faulty = FaultInjectingFileSystem(wrapping: fs)
            let db = try Database.open(fileSystem: faulty, options: options)
            var timeline = Timeline()
            for i in 0..<100 { try db.put(key(i), value(i)) }
            try db.sync()
            timeline.states = [ReferenceModel(Dictionary(uniqueKeysWithValues: (0..<100).map { (key($0), value($0)) }))]
            faulty.failNthStep(step, sticky: true)
            let error = pogrebError { try db.checkpoint() }
            abandon(db)
            if !faulty.hasFailed {
                #expect(error == nil)
                break
            }
            for unsynced in UnsyncedWrites.allCases {
                try Self.checkRecovered(
                    fs.crash(unsynced, using: &generator), timeline, options: options, thorough: step % 8 == 1,
                    "first checkpoint stopped at step \(step) (\(faulty.failures.first ?? "")), \(unsynced)")
            }
            step += 1
        }
        #expect(step > 5)
    }

    @Test func crashDuringACompactionAtEveryStep() throws {
        var generator = SeededGenerator.make("crash in compaction")
        var options = Options()
        Self.options(&options)
        options.checkpointDirtyBuckets = 1 << 20
        options.writeBufferSize = 64 << 10  // fewer steps: one write per 64 KiB of copies
        let steps = try Self.crashAtEveryStep(
            "compaction", options: options, keys: 1400, allModesEveryStep: false, generator: &generator,
            prepare: { db, model in
                try db.put(key(5), value(5, version: 2))
                model.put(key(5), value(5, version: 2))
            },
            operation: { db in
                let result = try db.compact()
                #expect(result.segmentsCompacted > 0)
            })
        #expect(steps >= 6, "a compaction takes \(steps) steps")
        print("a compaction took \(steps) steps")
    }

    @Test func crashDuringRecoveryAtEveryStep() throws {
        // Opening a crashed database writes too (it cuts the torn tail, removes leftovers);
        // a crash then must leave a database that still opens with the same content.
        var generator = SeededGenerator.make("crash in recovery")
        var options = Options()
        Self.options(&options)
        let fs = MemoryFileSystem()
        let db = try Database.open(fileSystem: fs, options: options)
        var model = ReferenceModel()
        for i in 0..<2000 {
            try db.put(key(i), value(i, length: 300))
            model.put(key(i), value(i, length: 300))
        }
        try db.sync()
        // A checkpoint now, so that none falls among the unsynced puts below: with 96 dirty
        // buckets allowed, one could (depending on the random hash seed), and it would sync
        // them, so the cut below would no longer be a torn tail but damage of synced records.
        try db.checkpoint()
        let checkpoints = try db.statistics.checkpoints
        var timeline = Timeline()
        timeline.states = [model]
        // Unsynced writes past the synced ones: kept in part, they leave a torn tail.
        for i in 2000..<2010 { try db.put(key(i), value(i, length: 5000)) }
        try #require(try db.statistics.checkpoints == checkpoints, "the puts meant to stay unsynced met a checkpoint")
        let crashed = fs.crashImage(keepingUnsyncedWrites: { $0 })
        try db.close()
        // Cut the newest segment inside its last record.
        guard let newest = try crashed.listFiles().filter({ $0.hasPrefix("segment-") }).sorted().last,
            let bytes = crashed.contents(of: newest)
        else { throw TestSupportError("no segment") }
        crashed.setContents(of: newest, to: Array(bytes.dropLast(100)))
        for i in 2000..<2009 { timeline.record(timeline.current.putting(key(i), value(i, length: 5000))) }

        var step = 1
        while step < 200 {
            let copy = crashed.copy()
            let faulty = FaultInjectingFileSystem(wrapping: copy)
            faulty.failNthStep(step, sticky: true)
            var opened: Database?
            let error = pogrebError { opened = try Database.open(fileSystem: faulty, options: options) }
            if let opened { abandon(opened) }
            if !faulty.hasFailed {
                #expect(error == nil)
                break
            }
            for unsynced in UnsyncedWrites.allCases {
                try Self.checkRecovered(
                    copy.crash(unsynced, using: &generator), timeline, options: options, thorough: step % 4 == 1,
                    "recovery stopped at step \(step) (\(faulty.failures.first ?? "")), \(unsynced)")
            }
            step += 1
        }
        #expect(step > 1, "recovery of a torn tail writes")
    }
}

extension ReferenceModel {
    func putting(_ key: [UInt8], _ value: [UInt8]) -> ReferenceModel {
        var copy = self
        copy.put(key, value)
        return copy
    }
}
