import Glibc
import PogrebWorkload
import Synchronization

/// The read workloads a child can run after opening a loaded database, in the order they run.
let readWorkloads = ["W2", "W2v", "W2m", "W3"]
/// Every workload id `--workloads` accepts.
let knownWorkloads = ["W1"] + readWorkloads + ["W6", "W7", "W9"] + ycsbWorkloads

/// W7's puts in each of its two runs (docs/WORKLOADS.md: 20 000).
let durablePutCount = 20_000

/// The work of one child process: `W1` (load a fresh database), a comma list of read workloads
/// (open the database the previous child loaded and read it), `W9load` and `W9get` (W9's load and
/// its lookups), the steps of W6 (``recoveryStep(_:step:n:dir:report:)``), `W7`, `Yload` (load the
/// YCSB records) or one YCSB mix (`YA` …). Never throws: failures go into the report's `error`.
func runChild<E: Engine>(_ engine: E.Type, workloads: [String], n: Int, dir: String) -> ChildReport {
    var report = ChildReport(engine: E.name, workload: workloads.joined(separator: ","), n: n)
    do throws(CompareError) {
        if workloads == ["W1"] {
            report.measurements.append(try load(engine, row: "W1", data: FixedData.self, n: n, dir: dir))
        } else if workloads == ["W9load"] {
            report.measurements.append(try load(engine, row: "W9 load", data: VariableData.self, n: n, dir: dir))
        } else if workloads == ["W9get"] {
            let db = try E.openForReads(path: dir, n: n, data: VariableData.self)
            defer { try? db.close() }
            report.measurements.append(
                try lookups(
                    UncheckedSendable(db), row: "W9 get", data: VariableData.self, threads: 1, n: n, api: .get,
                    timed: true))
        } else if workloads.count == 1, recoverySteps.contains(workloads[0]) {
            try recoveryStep(engine, step: workloads[0], n: n, dir: dir, report: &report)
        } else if workloads == ["W7"] {
            report.measurements = try durablePuts(engine, count: durablePutCount, dir: dir)
        } else if workloads == ["Yload"] {
            report.measurements.append(try loadYCSB(engine, n: n, dir: dir))
        } else if workloads.count == 1, ycsbWorkloads.contains(workloads[0]) {
            report.measurements.append(try runYCSB(engine, mix: workloads[0], n: n, dir: dir))
        } else {
            report.measurements = try read(engine, workloads: workloads, n: n, dir: dir)
        }
    } catch {
        report.error = error.description
    }
    return report
}

/// W1 (and W9's load): puts N keys of `data` in load order into a new database, one sync at the
/// end, close.
func load<E: Engine, D: Dataset>(
    _ engine: E.Type, row: String, data: D.Type, n: Int, dir: String
) throws(CompareError) -> Measurement {
    let order = WorkloadData.loadOrder(n)
    let start = nowNanoseconds()
    let memory = try E.load(path: dir, order: order, data: data, whileOpen: nil)
    let seconds = Double(nowNanoseconds() - start) / 1e9
    return Measurement(
        row: row, threads: 1, ops: n, seconds: seconds, bytesOnDisk: memory ?? bytesOnDisk(dir),
        rawBytes: D.rawBytes(count: n), peakResidentBytes: peakResidentBytes())
}

/// The read workloads, in one process on one open database: W2 (1 thread with latencies, 2 threads,
/// 1 thread warm), W2 through the lending call, W2 through the batched call, W3 (absent keys).
func read<E: Engine>(
    _ engine: E.Type, workloads: [String], n: Int, dir: String
) throws(CompareError)
    -> [Measurement]
{
    let db = try E.openForReads(path: dir, n: n, data: FixedData.self)
    defer { try? db.close() }
    var results: [Measurement] = []
    let shared = UncheckedSendable(db)
    if workloads.contains("W2") {
        results.append(try lookups(shared, row: "W2", threads: 1, n: n, api: .get, timed: true))
        results.append(try lookups(shared, row: "W2 2 threads", threads: 2, n: n, api: .get))
        results.append(try lookups(shared, row: "W2 warm", threads: 1, n: n, api: .get))
    }
    if workloads.contains("W2v") {
        results.append(try lookups(shared, row: "W2 withValue", threads: 1, n: n, api: .lend))
    }
    if workloads.contains("W2m") {
        // Engines without a batched lookup report nothing for this row.
        let many = try lookups(shared, row: "W2 get(many:)", threads: 1, n: n, api: .many)
        if many.ops > 0 { results.append(many) }
    }
    if workloads.contains("W3") {
        results.append(try lookups(shared, row: "W3", threads: 1, n: n, api: .lend, base: UInt64(n), present: false))
    }
    return results
}

struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

enum LookupAPI {
    /// An owned copy of the value (pogreb `get`).
    case get
    /// The value lent without a copy where the engine can (pogreb `withValue`).
    case lend
    /// Batched, in calls of 64 keys (pogreb `get(many:)`, the limit table's batches of 16).
    case many
}

struct Outcome: Sendable {
    var ops = 0
    var wrong = 0
    var firstProblem: String?
    var error: String?
    var start: UInt64 = 0
    var end: UInt64 = 0
    var unsupported = false
}

/// Runs `n` lookups over `threads` threads (thread t draws ids `base + next() % n` from the stream of
/// docs/WORKLOADS.md's seed for it) and checks every value: version 0 of its key when `present`,
/// absent otherwise.
func lookups<E: Engine, D: Dataset>(
    _ db: UncheckedSendable<E>, row: String, data: D.Type = FixedData.self, threads: Int, n: Int, api: LookupAPI,
    base: UInt64 = 0, present: Bool = true, timed: Bool = false
) throws(CompareError) -> Measurement {
    var outcomes: [Outcome] = []
    var measurement = Measurement(row: row, threads: threads, ops: n, seconds: 0)
    if threads == 1 {
        var samples = [UInt32](repeating: 0, count: timed ? n : 0)
        let reader = try db.value.makeReader()
        let outcome = samples.withUnsafeMutableBufferPointer { buffer in
            lookupLoop(
                reader, data: data, seed: WorkloadData.lookupSeed(thread: 0, of: 1), ops: n, n: n, base: base,
                present: present, api: api, latencies: timed ? buffer : nil)
        }
        outcomes = [outcome]
        if timed && outcome.error == nil {
            samples.sort()
            let pick = { (q: Double) in Double(samples[min(samples.count - 1, Int(Double(samples.count) * q))]) }
            measurement.p50Nanoseconds = pick(0.5)
            measurement.p99Nanoseconds = pick(0.99)
            measurement.p999Nanoseconds = pick(0.999)
        }
    } else {
        let collected = Mutex<[Outcome]>([])
        let ready = Barrier(threads)
        runOnThreads(threads) { t in
            var outcome = Outcome()
            do throws(CompareError) {
                let reader = try db.value.makeReader()
                ready.arriveAndWait()
                let ops = n / threads + (t < n % threads ? 1 : 0)
                outcome = lookupLoop(
                    reader, data: data, seed: WorkloadData.lookupSeed(thread: t, of: threads), ops: ops, n: n,
                    base: base, present: present, api: api, latencies: nil)
            } catch {
                ready.arriveAndWait()
                outcome.error = error.description
            }
            collected.withLock { $0.append(outcome) }
        }
        outcomes = collected.withLock { $0 }
    }
    if let error = outcomes.compactMap(\.error).first { throw CompareError("\(row): \(error)") }
    if outcomes.contains(where: \.unsupported) {
        measurement.ops = 0
        return measurement
    }
    measurement.wrong = outcomes.reduce(0) { $0 + $1.wrong }
    measurement.firstProblem = outcomes.compactMap(\.firstProblem).first
    let start = outcomes.map(\.start).min() ?? 0
    let end = outcomes.map(\.end).max() ?? 0
    measurement.seconds = Double(end &- start) / 1e9
    measurement.peakResidentBytes = peakResidentBytes()
    return measurement
}

/// Threads wait here until `count` have arrived.
final class Barrier: Sendable {
    let count: Int
    let arrived = Atomic<Int>(0)
    init(_ count: Int) { self.count = count }
    func arriveAndWait() {
        arrived.add(1, ordering: .acquiringAndReleasing)
        while arrived.load(ordering: .acquiring) < count { sched_yield() }
    }
}

/// One thread's lookups. The check of each value is the same for every engine: 0 as expected,
/// 1 missing, 2 wrong value, 3 present but should be absent.
func lookupLoop<R: Reader, D: Dataset>(
    _ reader: R, data: D.Type, seed: UInt64, ops: Int, n: Int, base: UInt64, present: Bool, api: LookupAPI,
    latencies: UnsafeMutableBufferPointer<UInt32>?
) -> Outcome {
    var stream = RandomStream(seed: seed)
    var outcome = Outcome()
    let space = UInt64(n)
    @inline(__always) func verdict(_ value: UnsafeRawBufferPointer?, _ id: UInt64) -> Int {
        guard let value else { return present ? 1 : 0 }
        if !present { return 3 }
        return D.matches(value, id) ? 0 : 2
    }
    func note(_ state: Int, _ id: UInt64) {
        outcome.wrong += 1
        if outcome.firstProblem == nil {
            let what = [1: "is missing", 2: "has a wrong value", 3: "should be absent but was found"][state] ?? ""
            outcome.firstProblem = "key \(id) \(what)"
        }
    }
    outcome.start = nowNanoseconds()
    do throws(CompareError) {
        switch api {
        case .get, .lend:
            var key = [UInt8](repeating: 0, count: D.keySize)
            var last = outcome.start
            for k in 0..<ops {
                let id = base &+ stream.next() % space
                D.fillKey(id, &key)
                let state: Int
                if api == .get {
                    let value = try reader.get(key)
                    state = value.map { v in v.withUnsafeBytes { verdict($0, id) } } ?? verdict(nil, id)
                } else {
                    state = try reader.lend(key) { verdict($0, id) }
                }
                if let latencies {
                    let t = nowNanoseconds()
                    latencies[k] = UInt32(clamping: t &- last)
                    last = t
                }
                if state != 0 { note(state, id) }
            }
        case .many:
            let batch = 64
            var keys = [[UInt8]](repeating: [UInt8](repeating: 0, count: D.keySize), count: batch)
            var ids = [UInt64](repeating: 0, count: batch)
            var done = 0
            while done < ops {
                let count = min(batch, ops - done)
                if keys.count != count { keys.removeLast(keys.count - count) }
                for j in 0..<count {
                    ids[j] = base &+ stream.next() % space
                    D.fillKey(ids[j], &keys[j])
                }
                var states: (wrong: Int, first: (Int, UInt64)?) = (0, nil)
                let supported = try reader.getMany(keys) { i, value in
                    let state = verdict(value, ids[i])
                    if state != 0 {
                        states.wrong += 1
                        if states.first == nil { states.first = (state, ids[i]) }
                    }
                }
                if !supported {
                    outcome.unsupported = true
                    break
                }
                if let first = states.first {
                    note(first.0, first.1)
                    outcome.wrong += states.wrong - 1
                }
                done += count
            }
        }
    } catch {
        outcome.error = error.description
    }
    outcome.end = nowNanoseconds()
    outcome.ops = ops
    return outcome
}
