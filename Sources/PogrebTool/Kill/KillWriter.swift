// `pogreb _kill-writer`: a writer that a kill test SIGKILLs at random moments.
//
//     pogreb _kill-writer --path P --seed S --log L [--start K] [--steps M]
//
// It opens the database at P (syncPolicy .never; 1 MiB segments, a 4 KiB write buffer and small
// checkpoint thresholds, so that torn records, segment rotation, checkpoints and compaction all
// happen within a short run), then applies
// the steps K, K+1, … of the plan of seed S (see `KillPlan`), forever or until M steps were
// applied (then it closes the database and exits 0). After each `sync()` returns it appends
// `synced <X>` to the log file L (opened O_APPEND, fsync'd after every line): the steps 0 ..< X
// are durable. Right after opening it appends `opened <K>`.
//
// With `--maintenance-beside`, a second thread runs beside the writer until the kill: it
// compacts (`compact()`, which throws `busy` while a backup runs) and backs the database up to
// `<P>.backup` (`backup(to:replacing: true)`), in turn, with a pause of 0-15 ms between.
//
// How a verifier regenerates the operations: `KillPlan.operations(seed: S, count: X)` returns the
// steps 0 ..< X; applying them in order to an empty key-value map (a put sets, a delete removes,
// a batch applies its operations in order) gives the durable state. `KillPlan.Generator(seed:)`
// yields the same steps one at a time. The plan, from `RandomStream(seed: S)` (docs/WORKLOADS.md's
// stream: the k-th number is splitmix64(S &+ k &* 0x9E3779B97F4A7C15)), consuming numbers in
// exactly this order for each step:
//
//   r = next();  r % 100 < 55: one put;  < 70: one delete;  else a batch of 2 + next() % 19 operations
//   for each operation:
//     in a batch only: next() % 100 < 80 → put, else delete  (single steps are decided by r)
//     key id  = next() % 256;  key bytes = UTF-8 of "key-<id>"
//     a put:  pad = next() % 50 == 0 ? next() % 65536 : 0
//             value = key bytes + ":" + decimal <operation number> + pad bytes, the j-th pad byte
//             being UInt8(truncatingIfNeeded: <operation number> &+ j)
//   sync after the step:   next() % 24 == 0
//   maintenance after it:  m = next() % 400;  m == 0 → checkpoint(), m == 1 → compact()
//
// The operation number counts every put and delete of the plan from 0 (inside batches too), so
// every value the plan writes is unique and tells which operation wrote it. Maintenance and
// syncs do not change the data; they are part of the plan only so that runs are reproducible.

import ArgumentParser
import Glibc
import Pogreb
import PogrebWorkload

/// The deterministic operation sequence of `pogreb _kill-writer` (see the comment at the top of
/// this file for the exact definition).
enum KillPlan {
    /// The number of distinct keys the plan touches.
    static let keySpace: UInt64 = 256

    enum Operation: Equatable, Sendable {
        case put(key: [UInt8], value: [UInt8])
        case delete(key: [UInt8])

        var key: [UInt8] {
            switch self {
            case .put(let key, _), .delete(let key): return key
            }
        }
    }

    enum Maintenance: Equatable, Sendable { case none, checkpoint, compact }

    struct Step: Equatable, Sendable {
        /// One operation, or several applied as one atomic batch.
        var operations: [Operation]
        var isBatch: Bool
        var syncAfter: Bool
        var maintenance: Maintenance
    }

    /// The key bytes of key id `id`.
    static func key(_ id: UInt64) -> [UInt8] { Array("key-\(id)".utf8) }

    /// Yields the steps of the plan of `seed`, in order.
    struct Generator: Sendable {
        private var stream: RandomStream
        /// The index of the next step.
        private(set) var stepIndex = 0
        /// The number of the next operation.
        private(set) var operationNumber: UInt64 = 0

        init(seed: UInt64) { stream = RandomStream(seed: seed) }

        mutating func next() -> Step {
            let r = stream.next() % 100
            var operations: [Operation] = []
            let isBatch = r >= 70
            let count = isBatch ? 2 + Int(stream.next() % 19) : 1
            for _ in 0..<count {
                let isPut = isBatch ? stream.next() % 100 < 80 : r < 55
                let key = KillPlan.key(stream.next() % KillPlan.keySpace)
                if isPut {
                    let pad = stream.next() % 50 == 0 ? Int(stream.next() % 65536) : 0
                    var value = key + Array(":\(operationNumber)".utf8)
                    value.reserveCapacity(value.count + pad)
                    for j in 0..<pad { value.append(UInt8(truncatingIfNeeded: operationNumber &+ UInt64(j))) }
                    operations.append(.put(key: key, value: value))
                } else {
                    operations.append(.delete(key: key))
                }
                operationNumber += 1
            }
            let syncAfter = stream.next() % 24 == 0
            let m = stream.next() % 400
            stepIndex += 1
            return Step(
                operations: operations, isBatch: isBatch, syncAfter: syncAfter,
                maintenance: m == 0 ? .checkpoint : m == 1 ? .compact : .none)
        }
    }

    /// The first `count` steps of the plan of `seed`.
    static func operations(seed: UInt64, count: Int) -> [Step] {
        var generator = Generator(seed: seed)
        return (0..<count).map { _ in generator.next() }
    }

    /// Applies `step` to a model of the database.
    static func apply(_ step: Step, to model: inout [[UInt8]: [UInt8]]) {
        for operation in step.operations {
            switch operation {
            case .put(let key, let value): model[key] = value
            case .delete(let key): model[key] = nil
            }
        }
    }

    /// The state after steps 0 ..< `count` of the plan of `seed`.
    static func model(seed: UInt64, count: Int) -> [[UInt8]: [UInt8]] {
        var model: [[UInt8]: [UInt8]] = [:]
        for step in operations(seed: seed, count: count) { apply(step, to: &model) }
        return model
    }
}

struct KillWriter: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "_kill-writer", abstract: "Internal: a writer for kill tests (see KillWriter.swift).",
        shouldDisplay: false)

    @Option var path: String
    @Option var seed: UInt64
    @Option var log: String
    @Option(help: "The index of the first step to apply.") var start: Int = 0
    @Option(help: "Stop after this many steps (default: never).") var steps: Int?
    @Option var segmentSize: Int = 1 << 20
    @Flag(help: "Compact and back up to <path>.backup on a second thread while writing.")
    var maintenanceBeside = false

    func run() throws {
        let logFile = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard logFile >= 0 else { throw ToolError(.io, "cannot open \(log): \(describeErrno(errno))") }
        defer { close(logFile) }
        func append(_ line: String) throws(ToolError) {
            let text = line + "\n"
            let written = text.utf8CString.withUnsafeBufferPointer { write(logFile, $0.baseAddress, $0.count - 1) }
            guard written == text.utf8.count, fsync(logFile) == 0 else {
                throw ToolError(.io, "cannot write \(log): \(describeErrno(errno))")
            }
        }

        var options = Options()
        options.syncPolicy = .never
        options.segmentSize = segmentSize
        options.checkpointDirtyBuckets = 512
        options.checkpointLogBytes = 2 << 20
        options.compactionMinDeadBytes = 64 << 10
        options.writeBufferSize = 4096  // many small pwrites, so a kill often leaves a torn record
        let db = try engine("opening \(path)") { () throws(PogrebError) -> Database in
            try Database.open(at: path, options: options)
        }
        try append("opened \(start)")
        if maintenanceBeside {
            let backupPath = path + ".backup"
            _ = startThread {
                var round: UInt32 = 0
                while true {
                    round &+= 1
                    // Errors are expected here (`busy`, `closed` after the writer closes) and
                    // change nothing: what the kill test checks is the database and the backup.
                    if round % 2 == 0 {
                        _ = try? db.compact()
                    } else {
                        _ = try? db.backup(to: backupPath, replacing: true)
                    }
                    if (try? db.statistics) == nil { return }
                    usleep(useconds_t((round &* 7919) % 16) * 1000)
                }
            }
        }

        var generator = KillPlan.Generator(seed: seed)
        for _ in 0..<start { _ = generator.next() }
        var index = start
        while steps.map({ index < start + $0 }) ?? true {
            let step = generator.next()
            try engine("step \(index)") { () throws(PogrebError) in
                if step.isBatch {
                    var batch = WriteBatch()
                    for operation in step.operations {
                        switch operation {
                        case .put(let key, let value): batch.put(key, value)
                        case .delete(let key): batch.delete(key)
                        }
                    }
                    try db.apply(batch)
                } else {
                    switch step.operations[0] {
                    case .put(let key, let value): try db.put(key, value)
                    case .delete(let key): try db.delete(key)
                    }
                }
            }
            index += 1
            if step.syncAfter {
                try engine("sync after step \(index - 1)") { () throws(PogrebError) in try db.sync() }
                try append("synced \(index)")
            }
            switch step.maintenance {
            case .none: break
            case .checkpoint: try engine("checkpoint") { () throws(PogrebError) in try db.checkpoint() }
            case .compact:
                _ = try engine("compact") { () throws(PogrebError) -> CompactionResult? in
                    do throws(PogrebError) {
                        return try db.compact()
                    } catch  where error.code == .busy && maintenanceBeside {
                        return nil  // a backup beside holds off compaction for now
                    }
                }
            }
        }
        try engine("close") { () throws(PogrebError) in try db.close() }
        try append("closed \(index)")
    }
}
