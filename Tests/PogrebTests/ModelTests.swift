import PogrebTestSupport
import Testing
@testable import Pogreb

/// Random sequences of operations, checked step by step against ``ReferenceModel``.
///
/// Each run prints its seed; `POGREB_SEED=<seed> swift test --filter ModelTests` replays it.
@Suite struct ModelTests {
    @Test(arguments: FileSystemKind.allCases)
    func randomOperationsMatchTheModel(kind: FileSystemKind) throws {
        var generator = SeededGenerator.make("model \(kind)")
        try ModelRun.run(kind: kind, operations: 2500, generator: &generator)
    }

    @Test(.enabled(if: longTestsEnabled, "set POGREB_LONG_TESTS=1"), arguments: FileSystemKind.allCases)
    func longRandomOperations(kind: FileSystemKind) throws {
        var generator = SeededGenerator.make("long model \(kind)")
        for _ in 0..<8 {
            var run = generator.fork()
            print("sub-run seed: \(run.seed)")
            try ModelRun.run(kind: kind, operations: 25_000, generator: &run)
        }
    }
}

/// One random run: a database and the model, driven by the same operations.
struct ModelRun {
    enum Step: CaseIterable {
        case put, delete, batch, get, contains, sync, checkpoint, compact, reopen, crashReopen, readOnlyReopen, check
    }

    static let weights: [(Step, Int)] = [
        (.put, 380), (.delete, 110), (.batch, 70), (.get, 250), (.contains, 60), (.sync, 20),
        (.checkpoint, 10), (.compact, 6), (.reopen, 6), (.crashReopen, 6), (.readOnlyReopen, 3), (.check, 8),
    ]

    static func run(kind: FileSystemKind, operations: Int, generator: inout SeededGenerator) throws {
        try withTestDatabase(
            kind,
            configure: { options in
                smallOptions(&options)
                options.writeBufferSize = 8 << 10
                options.checkpointDirtyBuckets = 64
                options.compactionMinDeadBytes = 32 << 10
                options.compactionMinDeadFraction = 0.3
            }
        ) { t in
            var model = ReferenceModel()
            // A pool of keys of many lengths, the empty key among them.
            var pool: [[UInt8]] = [[]]
            while pool.count < 400 {
                let length = Int.random(in: 1...40, using: &generator)
                let candidate =
                    Int.random(in: 0..<3, using: &generator) == 0
                    ? generator.bytes(length) : bytes("k\(pool.count)-") + generator.bytes(length / 4)
                if !pool.contains(candidate) { pool.append(candidate) }
            }
            func randomKey() -> [UInt8] { pool[Int.random(in: 0..<pool.count, using: &generator)] }
            func randomValue() -> [UInt8] {
                switch Int.random(in: 0..<100, using: &generator) {
                case 0..<3: return generator.bytes(Int.random(in: 4000...20_000, using: &generator))
                case 3..<18: return generator.bytes(Int.random(in: 200...3000, using: &generator))
                default: return generator.bytes(Int.random(in: 0...200, using: &generator))
                }
            }
            let total = weights.reduce(0) { $0 + $1.1 }
            func randomStep() -> Step {
                var pick = Int.random(in: 0..<total, using: &generator)
                for (step, weight) in weights {
                    if pick < weight { return step }
                    pick -= weight
                }
                return .get
            }

            var db = try t.open()
            var history: [String] = []
            func note(_ text: String) {
                history.append(text)
                if history.count > 30 { history.removeFirst() }
            }
            defer { try? db.close() }
            for n in 0..<operations {
                let step = randomStep()
                let context: Comment =
                    "operation \(n) (\(step)), seed \(generator.seed), last operations:\n\(history.joined(separator: "\n"))"
                switch step {
                case .put:
                    let k = randomKey()
                    let v = randomValue()
                    note("put \(printable(k)) \(v.count) bytes")
                    try db.put(k, v)
                    model.put(k, v)
                case .delete:
                    let k = randomKey()
                    note("delete \(printable(k))")
                    let existed = try db.delete(k)
                    #expect(existed == model.delete(k), context)
                case .batch:
                    var batch = WriteBatch()
                    var operations: [ModelOperation] = []
                    for _ in 0..<Int.random(in: 1...12, using: &generator) {
                        let k = randomKey()
                        if Int.random(in: 0..<4, using: &generator) == 0 {
                            batch.delete(k)
                            operations.append(.delete(k))
                        } else {
                            let v = randomValue()
                            batch.put(k, v)
                            operations.append(.put(k, v))
                        }
                    }
                    note("batch \(operations)")
                    let results = try db.apply(batch)
                    #expect(results == model.apply(operations), context)
                case .get:
                    let k = randomKey()
                    let stored = try db.get(k)
                    #expect(stored == model.get(k), "get \(printable(k)): \(context)")
                case .contains:
                    let k = randomKey()
                    #expect(try db.contains(k) == model.contains(k), "contains \(printable(k)): \(context)")
                case .sync:
                    note("sync")
                    try db.sync()
                case .checkpoint:
                    note("checkpoint")
                    try db.checkpoint()
                case .compact:
                    note("compact")
                    _ = try db.compact()
                    try checkInvariants(db, model: model)
                case .reopen:
                    note("reopen")
                    try db.close()
                    db = try t.open()
                    #expect(try db.statistics.recordsReplayedAtOpen == 0, context)
                    try checkInvariants(db, model: model)
                case .crashReopen:
                    // A killed process: whatever was synced (here: everything) is replayed.
                    note("crash and reopen")
                    try db.sync()
                    abandon(db)
                    db = try t.open()
                    #expect(try db.statistics.tornTails == [], context)
                    try checkInvariants(db, model: model)
                case .readOnlyReopen:
                    // A killed writer, then a reader: it replays the tail without writing.
                    note("crash, read-only open, reopen")
                    try db.sync()
                    abandon(db)
                    let files = try t.snapshot()
                    let reader = try t.open { $0.readOnly = true }
                    try checkInvariants(reader, model: model)
                    try reader.close()
                    #expect(try t.snapshot() == files, "a read-only open writes nothing: \(context)")
                    db = try t.open()
                case .check:
                    #expect(try db.count == model.count, context)
                    try checkInvariants(db, model: model)
                }
            }
            try checkInvariants(db, model: model)
            try db.close()
            db = try t.open()
            try checkInvariants(db, model: model)
        }
    }
}
