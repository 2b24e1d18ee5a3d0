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
/// its last durability point.
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
        var faultPoints = 0
        var faultsMet = 0
        var imagesChecked = 0
        var failures = 0
    }

    /// Runs `script` with the `n`-th operation of `kind` failing; returns whether it failed
    /// (false once `n` passes the number of such operations the workload makes).
    static func run(
        _ script: [Step], kind: Operation, fault: Fault, sticky: Bool, failAt n: Int, tally: inout Tally
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
            if let met, !closeCalled {
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
        tally.faultPoints += 1
        guard files.hasFailed else { return false }
        tally.faultsMet += 1
        if met == nil {
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
        default: return [.eio]
        }
    }

    @Test(arguments: Operation.allCases)
    func everyFaultPointOfAWorkloadIsReportedLatchedAndRecoverable(kind: Operation) throws {
        try Self.campaign(kind: kind, steps: 30)
    }

    @Test(.enabled(if: longTestsEnabled, "set POGREB_LONG_TESTS=1"), arguments: Operation.allCases)
    func everyFaultPointOfALongWorkloadIsReportedLatchedAndRecoverable(kind: Operation) throws {
        try Self.campaign(kind: kind, steps: 200)
    }

    static func campaign(kind: Operation, steps: Int) throws {
        var generator = SeededGenerator.make("fault points \(kind)")
        let script = Self.script(&generator, steps: steps)
        var tally = Tally()
        for fault in Self.faults(for: kind) {
            for sticky in [false, true] {
                var n = 1
                while try Self.run(script, kind: kind, fault: fault, sticky: sticky, failAt: n, tally: &tally) {
                    n += 1
                    if n > 5_000 {
                        Issue.record("more than 5 000 \(kind) operations: the workload does not end")
                        break
                    }
                }
            }
        }
        print(
            "fault points (\(kind), \(steps) steps): \(tally.faultPoints) runs, \(tally.faultsMet) faults met, "
                + "\(tally.imagesChecked) images reopened, \(tally.failures) failures")
        #expect(tally.failures == 0)
        #expect(tally.faultsMet > 0, "the workload never makes a \(kind)")
    }
}
