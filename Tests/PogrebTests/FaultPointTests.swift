import PogrebTestSupport
import Testing

@testable import Pogreb

/// Every fault point of a scripted workload: for each kind of changing operation (write,
/// truncate, file sync, directory sync, create, rename, remove) and N = 1, 2, … until the workload
/// completes, the N-th such operation fails — with `EIO`, `ENOSPC` or as a short write, once
/// (the process goes on and closes the database) or for ever (the process stops there). The call
/// that meets it throws; every later change is refused with `previousIOFailure` (a failed write or
/// sync leaves the files in a state only reopening can trust); and the files, with unsynced writes
/// dropped or kept, reopen without repair to one of the states the database went through since
/// its last durability point. The reading operations (open of an existing file, `fstat`, `pread`,
/// `mmap`, listing the directory) fail the same way: the call that meets the failure throws a
/// typed error, later calls work or fail with a typed error, and the files reopen as above.
@Suite struct FaultPointTests {
    typealias Operation = FaultInjectingFileSystem.Operation
    typealias Fault = FaultInjectingFileSystem.Fault

    enum Step {
        case put(key: Int, version: Int, length: Int)
        case delete(key: Int)
        case batch([(key: Int, version: Int?)])
        case sync, checkpoint, compact
        /// `close()`, the workload's last step.
        case close
    }

    static func options(_ options: inout Options) {
        smallOptions(&options)
        options.writeBufferSize = 2 << 10
        options.checkpointDirtyBuckets = 24
        options.compactionMinDeadBytes = 8 << 10
        options.compactionMinDeadFraction = 0.2
    }

    /// The workload: puts (some larger than the write buffer, a few of 300 KB that fill segments
    /// and make rotations), overwrites, deletes, batches, syncs, checkpoints, compactions (which
    /// remove segments) over 40 keys; then a fixed ending that compacts and removes a segment
    /// whatever came before, and `close()`.
    static func script(_ generator: inout SeededGenerator, steps: Int) -> [Step] {
        var script: [Step] = []
        for n in 0..<steps {
            let k = Int.random(in: 0..<40, using: &generator)
            switch Int.random(in: 0..<100, using: &generator) {
            case 0..<4: script.append(.put(key: k % 4, version: n, length: 300_000))  // rotations
            case 4..<50: script.append(.put(key: k, version: n, length: Int.random(in: 0..<3000, using: &generator)))
            case 50..<62: script.append(.delete(key: k))
            case 62..<74:
                script.append(
                    .batch(
                        (0..<Int.random(in: 2...5, using: &generator)).map { j in
                            (Int.random(in: 0..<40, using: &generator), j % 3 == 2 ? nil : n)
                        }))
            case 74..<86: script.append(.sync)
            case 86..<93: script.append(.checkpoint)
            default: script.append(.compact)
            }
        }
        // A fixed ending that makes every kind of operation happen whatever the random part did:
        // the large keys written twice over fill segments with dead records, compaction reclaims
        // one and the checkpoint after it removes the file.
        for round in 0..<2 {
            for k in 0..<4 { script.append(.put(key: k, version: steps + round, length: 270_000)) }
        }
        script.append(contentsOf: [.sync, .compact, .checkpoint, .put(key: 5, version: 0, length: 10), .close])
        return script
    }

    struct Tally {
        /// Operations of the kind in the last run (when counted).
        var operations = 0
        var faultPoints = 0
        var faultsMet = 0
        /// Failed reads that no call reported (a fallback absorbed them), and a few of them.
        var absorbed = 0
        var absorbedExamples: [String] = []
        var imagesChecked = 0
        var failures = 0
    }

    /// Runs `script` with the `n`-th operation of `kind` failing; returns whether it failed
    /// (false once `n` passes the number of such operations the workload makes).
    static func run(
        _ script: [Step], kind: Operation, fault: Fault, sticky: Bool, failAt n: Int, tally: inout Tally,
        counted: Bool = false
    ) throws -> Bool {
        var options = Options()
        Self.options(&options)
        let memory = MemoryFileSystem()
        let files = FaultInjectingFileSystem(wrapping: memory)
        files.arm([kind], failingAt: n, sticky: sticky, fault: fault)
        let context = "the \(n). \(kind) fails (\(fault), \(sticky ? "for ever" : "once"))"
        var timeline = CrashConsistencyTests.Timeline()
        var inFlight: ReferenceModel?
        var met: PogrebError?
        let db: Database?
        do {
            db = try Database.open(fileSystem: files, options: options)
        } catch {
            db = nil
            met = error
        }
        if let db {
            var closeCalled = false
            for step in script {
                var model = timeline.current
                do {
                    switch step {
                    case .put(let k, let version, let length):
                        let v = value(k, version: version, length: length)
                        model.put(key(k), v)
                        inFlight = model
                        try db.put(key(k), v)
                        timeline.record(model)
                    case .delete(let k):
                        model.delete(key(k))
                        inFlight = model
                        try db.delete(key(k))
                        timeline.record(model)
                    case .batch(let operations):
                        var batch = WriteBatch()
                        for (k, version) in operations {
                            if let version {
                                batch.put(key(k), value(k, version: version))
                                model.put(key(k), value(k, version: version))
                            } else {
                                batch.delete(key(k))
                                model.delete(key(k))
                            }
                        }
                        inFlight = model
                        try db.apply(batch)
                        timeline.record(model)
                    case .sync:
                        inFlight = nil
                        try db.sync()
                        timeline.makeDurable()
                    case .checkpoint:
                        inFlight = nil
                        try db.checkpoint()
                        timeline.makeDurable()
                    case .compact:
                        inFlight = nil
                        if try db.compact().segmentsCompacted > 0 { timeline.makeDurable() }
                    case .close:
                        inFlight = nil
                        closeCalled = true
                        try db.close()
                        timeline.makeDurable()
                    }
                } catch {
                    met = error
                    break
                }
            }
            if met != nil, !closeCalled, Operation.reading.contains(kind) {
                // A failed read fails the call that made it and nothing else: a later put works or
                // throws a typed error, and what it wrote is one of the allowed states. (Only after
                // a step that had nothing in flight, so that the state it starts from is known.)
                if !sticky && inFlight == nil {
                    var model = timeline.current
                    model.put(key(999), value(999))
                    inFlight = model
                    do {
                        try db.put(key(999), value(999))
                        timeline.record(model)
                        inFlight = nil
                    } catch {
                        // Typed (`put` throws only `PogrebError`); the state it may leave is allowed.
                    }
                }
            } else if let met, !closeCalled {
                // Every later change is refused: the failure is latched until the database is reopened.
                var refused: PogrebError?
                do { try db.put(key(999), value(999)) } catch { refused = error }
                if refused?.code != .previousIOFailure {
                    tally.failures += 1
                    Issue.record(
                        Comment(
                            rawValue: "\(context): after \(met) a put gave \(refused.map { "\($0)" } ?? "no error")"))
                }
            }
            // The process stops at a failure for ever; after a single one it goes on to close.
            if !closeCalled { if sticky { abandon(db) } else { try? db.close() } }
        }
        if counted {
            tally.operations = files.count(of: kind)
            return files.hasFailed
        }
        tally.faultPoints += 1
        guard files.hasFailed else { return false }
        tally.faultsMet += 1
        if met == nil && Operation.reading.contains(kind) {
            // A failed read that a call absorbed by a documented fallback (the dead-byte count of
            // an overwritten record counts 0 when unreadable; a checkpoint slot that cannot be
            // opened leaves the other slot). The files must still reopen to an allowed state.
            tally.absorbed += 1
            if tally.absorbedExamples.count < 3 { tally.absorbedExamples += files.failures }
        } else if met == nil {
            // A failure the workload's calls did not report (the workload ends with close(),
            // so every operation belongs to one of its calls).
            tally.failures += 1
            Issue.record(Comment(rawValue: "\(context): no call reported it (\(files.failures))"))
        }
        files.disarm()
        var allowed = timeline
        if let inFlight { allowed.record(inFlight) }
        for (image, what) in [(memory.crashImage(), "unsynced writes dropped"), (memory.copy(), "all writes kept")] {
            tally.imagesChecked += 1
            do {
                if try CrashConsistencyTests.checkRecovered(
                    image, allowed, options: options, thorough: tally.imagesChecked % 8 == 1,
                    Comment(rawValue: "\(context), \(what)")) == nil
                {
                    tally.failures += 1
                }
            } catch {
                tally.failures += 1
                Issue.record(Comment(rawValue: "\(context), \(what): the files do not reopen: \(error)"))
            }
        }
        return true
    }

    /// The kinds of failure each operation is tried with.
    static func faults(for kind: Operation) -> [Fault] {
        // The engine treats every errno alike (the call throws `io`, the writer latches), so
        // ENOSPC is tried where a full disk shows (growing or creating a file) and EIO elsewhere;
        // a write also fails half done.
        switch kind {
        case .write: return [.eio, .shortWrite]
        case .truncate, .create: return [.enospc]
        case .open, .size, .read, .map, .list: return [.eio]
        default: return [.eio]
        }
    }

    @Test(arguments: Operation.changing.sorted { $0.rawValue < $1.rawValue })
    func everyFaultPointOfAWorkloadIsReportedLatchedAndRecoverable(kind: Operation) throws {
        try Self.campaign(kind: kind, steps: 30)
    }

    /// The reading kinds: each call fails in turn (the first 16 and a seeded sample up to 40 in
    /// all when the workload makes more), once; every one, once and for ever, with
    /// `POGREB_LONG_TESTS`.
    @Test(arguments: Operation.reading.sorted { $0.rawValue < $1.rawValue })
    func faultPointsOfReadsAreReportedAndRecoverable(kind: Operation) throws {
        try Self.campaign(kind: kind, steps: 30, sampled: longTestsEnabled ? nil : 40)
    }

    @Test(.enabled(if: longTestsEnabled, "set POGREB_LONG_TESTS=1"), arguments: Operation.allCases)
    func everyFaultPointOfALongWorkloadIsReportedLatchedAndRecoverable(kind: Operation) throws {
        try Self.campaign(kind: kind, steps: 200, sampled: Operation.reading.contains(kind) ? 400 : nil)
    }

    /// How many operations of `kind` the workload makes when nothing fails.
    static func operationCount(_ script: [Step], kind: Operation) throws -> Int {
        var tally = Tally()
        // A failure at an occurrence the workload never reaches counts the operations.
        return try Self.run(
            script, kind: kind, fault: .eio, sticky: false, failAt: Int.max, tally: &tally, counted: true)
            ? 0 : tally.operations
    }

    static func campaign(kind: Operation, steps: Int, sampled limit: Int? = nil) throws {
        var generator = SeededGenerator.make("fault points \(kind)")
        let script = Self.script(&generator, steps: steps)
        var tally = Tally()
        // Every occurrence, or (for the reading kinds, which the workload makes by the hundred)
        // the first 16 and a seeded sample of the others, up to `limit` in all.
        let total = try operationCount(script, kind: kind)
        var occurrences = Array(1...(total + 1))
        if let limit, occurrences.count > limit {
            var rest = Array(occurrences.dropFirst(16))
            rest.shuffle(using: &generator)
            occurrences = Array(occurrences.prefix(16)) + rest.prefix(limit - 16).sorted()
        }
        // A read failing for ever is a process stopped there, which the changing kinds' sticky
        // runs cover already: the reading kinds try it only in the long mode.
        let stickiness = Operation.reading.contains(kind) && !longTestsEnabled ? [false] : [false, true]
        for fault in Self.faults(for: kind) {
            for sticky in stickiness {
                for n in occurrences {
                    if try !Self.run(script, kind: kind, fault: fault, sticky: sticky, failAt: n, tally: &tally) {
                        break
                    }
                }
            }
        }
        print(
            "fault points (\(kind), \(steps) steps): \(total) \(kind) operations in the workload, \(tally.faultPoints) "
                + "runs, \(tally.faultsMet) faults met (\(tally.absorbed) absorbed by a fallback, e.g. "
                + "\(tally.absorbedExamples)), \(tally.imagesChecked) images reopened, \(tally.failures) failures")
        #expect(tally.failures == 0)
        #expect(tally.faultsMet > 0, "the workload never makes a \(kind)")
    }
}
