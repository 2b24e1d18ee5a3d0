import Glibc
import Pogreb
import PogrebWorkload
import Synchronization

/// Runs the workloads of docs/WORKLOADS.md; each workload is an extension in a file of its own
/// (W1Load.swift, W2RandomGets.swift …). Each returns a ``WorkloadReport``; a wrong value or a missing
/// key throws a ``ToolError`` with status `corrupted` naming the workload, key and value.
final class WorkloadRunner {
    let n: Int
    let root: String
    let options: Options
    let durableCount: Int
    let coldLookups: Int
    let segmentSize: Int?
    /// For tests of the bench itself: after loading, store a wrong version of the first key
    /// that lookups draw.
    var damageOneValue = false
    /// Lookups whose value was compared with the expected one.
    var verifiedLookups = 0
    /// The directory of the database W1 loaded (closed), shared by W2, W3, W8 and W5.
    var loaded: String?
    /// Databases open at the moment, closed by ``closeAll()`` when a workload fails.
    var open: [Database] = []

    init(n: Int, root: String, options: Options, durableCount: Int, coldLookups: Int, segmentSize: Int?) {
        self.n = n
        self.root = root
        self.options = options
        self.durableCount = durableCount
        self.coldLookups = coldLookups
        self.segmentSize = segmentSize
    }

    func run(_ id: String) throws(ToolError) -> WorkloadReport {
        switch id {
        case "W1": return try w1()
        case "W2": return try w2()
        case "W3": return try w3()
        case "W5": return try w5()
        case "W6": return try w6()
        case "W7": return try w7()
        case "W8": return try w8()
        case "W9": return try w9()
        default: throw ToolError(.usage, "unknown workload \(id)")
        }
    }

    func closeAll() {
        for db in open { try? db.close() }
        open.removeAll()
    }

    // MARK: Helpers

    func openDatabase(_ path: String, configure: (inout Options) -> Void = { _ in }) throws(ToolError) -> Database {
        var options = self.options
        configure(&options)
        let db = try engine("opening \(path)") { () throws(PogrebError) -> Database in
            try Database.open(at: path, options: options)
        }
        open.append(db)
        return db
    }

    func close(_ db: Database) throws(ToolError) {
        try engine("closing") { () throws(PogrebError) in try db.close() }
        open.removeAll { $0 === db }
    }

    func wrong(_ workload: String, _ what: String) -> ToolError {
        ToolError(.corrupted, "\(workload): \(what)")
    }

    static func describeKey(_ id: UInt64) -> String {
        "key \(id) (\(Codec.hexString(WorkloadData.key(id))))"
    }

    /// Puts keys 0..<n in load order with version 0, syncs once and closes.
    /// - Returns: seconds for the puts, the sync and the close.
    /// Anonymous memory (RssAnon) at the end of the last load's puts, before sync and close.
    var anonymousAfterLoad: Int64?

    func load(_ path: String, label: String) throws(ToolError) -> (put: Double, sync: Double, close: Double) {
        let order = WorkloadData.loadOrder(n)
        let progress = Progress(label, total: Int64(n))
        let t0 = now()
        let db = try openDatabase(path)
        var key = [UInt8](repeating: 0, count: WorkloadData.keySize)
        var value = [UInt8](repeating: 0, count: WorkloadData.valueSize)
        do {
            var k = 0
            for id in order {
                WorkloadData.fillKey(UInt64(id), &key)
                WorkloadData.fillValue(UInt64(id), version: 0, &value)
                try db.put(key, value)
                k += 1
                if k & 0xFFFF == 0 {
                    progress.update(Int64(k))
                    if Interrupt.requested { break }
                }
            }
        } catch {
            progress.finish()
            throw ToolError(error, context: "\(label): put")
        }
        progress.finish()
        try Interrupt.check()
        let t1 = now()
        anonymousAfterLoad = Memory.status("RssAnon")
        try engine("\(label): sync") { () throws(PogrebError) in try db.sync() }
        let t2 = now()
        try close(db)
        let t3 = now()
        if damageOneValue {
            let damaged = try openDatabase(path)
            let id = splitmix64(7) % UInt64(n)  // the first key W2 and W8 look up
            try engine { () throws(PogrebError) in
                try damaged.put(WorkloadData.key(id), WorkloadData.value(id, version: 9))
            }
            try close(damaged)
        }
        return (t1 - t0, t2 - t1, t3 - t2)
    }

    /// The W1 database, loading it first (unreported) when W1 did not run.
    func loadedDatabase() throws(ToolError) -> String {
        if let loaded { return loaded }
        let path = root + "/w1"
        _ = try load(path, label: "prepare")
        loaded = path
        return path
    }

    struct LookupOutcome: Sendable {
        var ops = 0
        var wrong = 0
        var missing = 0
        var unexpected = 0
        var firstProblem: String?
        var error: String?
        var start: UInt64 = 0
        var end: UInt64 = 0
    }

    enum LookupAPI { case get, withValue }

    /// One thread's lookups: `ops` ids `base + next() % n` from the stream `seed`; when `present`,
    /// each value must be version `version` of its key, else each key must be absent.
    /// Records each lookup's latency in `latencies` when given (one clock read a lookup).
    static func lookupLoop(
        _ db: Database, seed: UInt64, ops: Int, n: Int, base: UInt64, present: Bool, version: UInt64, api: LookupAPI,
        latencies: UnsafeMutableBufferPointer<UInt32>?, progress: Progress?
    ) -> LookupOutcome {
        var stream = RandomStream(seed: seed)
        var key = [UInt8](repeating: 0, count: WorkloadData.keySize)
        var outcome = LookupOutcome()
        let space = UInt64(n)
        outcome.start = nowNanoseconds()
        var last = outcome.start
        for k in 0..<ops {
            let id = base &+ stream.next() % space
            WorkloadData.fillKey(id, &key)
            // 0: as expected, 1: absent, 2: wrong value, 3: present but should be absent
            var state = 0
            do {
                switch api {
                case .get:
                    if let value = try db.get(key) {
                        if !present {
                            state = 3
                        } else if !value.withUnsafeBytes({ WorkloadData.matches($0, id, version: version) }) {
                            state = 2
                        }
                    } else if present {
                        state = 1
                    }
                case .withValue:
                    state = try db.withValue(forKey: key) { raw -> Int in
                        guard let raw else { return present ? 1 : 0 }
                        if !present { return 3 }
                        return WorkloadData.matches(raw, id, version: version) ? 0 : 2
                    }
                }
            } catch {
                outcome.error = "lookup of \(describeKey(id)) failed: \(error)"
                break
            }
            if let latencies {
                let t = nowNanoseconds()
                latencies[k] = UInt32(clamping: t &- last)
                last = t
            }
            if state != 0 {
                switch state {
                case 1: outcome.missing += 1
                case 2: outcome.wrong += 1
                default: outcome.unexpected += 1
                }
                if outcome.firstProblem == nil {
                    outcome.firstProblem =
                        [
                            1: "\(describeKey(id)) is missing", 2: "\(describeKey(id)) has a wrong value",
                            3: "\(describeKey(id)) should be absent but was found",
                        ][state]
                }
            }
            outcome.ops = k + 1
            if k & 0xFFFF == 0xFFFF {
                progress?.update(Int64(k + 1))
                if Interrupt.requested {
                    outcome.error = "interrupted"
                    break
                }
            }
        }
        outcome.end = nowNanoseconds()
        progress?.finish()
        return outcome
    }

    /// Lookups for counting allocations: no strings, no progress, no checks beyond presence.
    static func countingLoop(_ db: Database, api: LookupAPI, ops: Int, n: Int) {
        var stream = RandomStream(seed: 7)
        var key = [UInt8](repeating: 0, count: WorkloadData.keySize)
        var sum = 0
        for _ in 0..<ops {
            WorkloadData.fillKey(stream.next() % UInt64(n), &key)
            switch api {
            case .get:
                sum &+= (try? db.get(key))??.count ?? 0
            case .withValue:
                sum &+= (try? db.withValue(forKey: key) { $0?.count ?? 0 }) ?? 0
            }
        }
        if sum == 42 { print(sum) }  // keep the loop
    }

    /// Runs `total` lookups over `threads` threads (thread t draws from its own stream).
    /// - Returns: wall-clock seconds, and the latencies when `timed` (one thread only).
    func lookups(
        _ workload: String, _ db: Database, threads: Int, total: Int, base: UInt64 = 0, present: Bool = true,
        version: UInt64 = 0, api: LookupAPI = .get, timed: Bool = false, label: String
    ) throws(ToolError) -> (seconds: Double, latencies: Percentiles?) {
        var outcomes: [LookupOutcome] = []
        var percentiles: Percentiles?
        let n = self.n
        if threads == 1 {
            var samples = timed ? [UInt32](repeating: 0, count: total) : []
            let progress = Progress(label, total: Int64(total))
            let outcome = samples.withUnsafeMutableBufferPointer { buffer in
                WorkloadRunner.lookupLoop(
                    db, seed: WorkloadData.lookupSeed(thread: 0, of: 1), ops: total, n: n, base: base, present: present,
                    version: version, api: api, latencies: timed ? buffer : nil, progress: progress)
            }
            outcomes = [outcome]
            if timed {
                samples.removeSubrange(outcome.ops...)
                percentiles = Percentiles(&samples)
            }
        } else {
            let collected = Mutex<[LookupOutcome]>([])
            runOnThreads(threads) { t in
                let ops = total / threads + (t < total % threads ? 1 : 0)
                let outcome = WorkloadRunner.lookupLoop(
                    db, seed: WorkloadData.lookupSeed(thread: t, of: threads), ops: ops, n: n, base: base,
                    present: present,
                    version: version, api: api, latencies: nil, progress: nil)
                collected.withLock { $0.append(outcome) }
            }
            outcomes = collected.withLock { $0 }
        }
        if let error = outcomes.compactMap(\.error).first {
            if error == "interrupted" { throw Interrupt.error }
            throw ToolError(.io, "\(workload): \(error)")
        }
        let wrongCount = outcomes.reduce(0) { $0 + $1.wrong }
        let missing = outcomes.reduce(0) { $0 + $1.missing }
        let unexpected = outcomes.reduce(0) { $0 + $1.unexpected }
        if wrongCount + missing + unexpected > 0 {
            let first = outcomes.compactMap(\.firstProblem).first ?? ""
            throw wrong(
                workload,
                "\(label): \(wrongCount) wrong values, \(missing) missing keys,"
                    + " \(unexpected) keys found that should be absent, in \(total) lookups (first: \(first))")
        }
        verifiedLookups += total
        let start = outcomes.map(\.start).min() ?? 0
        let end = outcomes.map(\.end).max() ?? 0
        return (Double(end &- start) / 1e9, percentiles)
    }

    /// Reads every key 0..<count in id order and checks its version.
    func verifyAll(
        _ workload: String, _ db: Database, count: Int, label: String, version: (UInt64) -> UInt64
    ) throws(ToolError) {
        var key = [UInt8](repeating: 0, count: WorkloadData.keySize)
        let progress = Progress(label, total: Int64(count))
        defer { progress.finish() }
        for i in 0..<UInt64(count) {
            WorkloadData.fillKey(i, &key)
            let expected = version(i)
            let value: [UInt8]?
            do { value = try db.get(key) } catch {
                throw ToolError(error, context: "\(workload): \(label): \(WorkloadRunner.describeKey(i))")
            }
            guard let value else { throw wrong(workload, "\(label): \(WorkloadRunner.describeKey(i)) is missing") }
            guard value.withUnsafeBytes({ WorkloadData.matches($0, i, version: expected) }) else {
                let actual = value.withUnsafeBytes { WorkloadData.version(of: $0, i, among: [0, 1, 2]) }
                throw wrong(
                    workload,
                    "\(label): \(WorkloadRunner.describeKey(i)) has"
                        + " \(actual.map { "version \($0)" } ?? "a value of no version"), expected version \(expected)")
            }
            if i & 0xFFFF == 0xFFFF {
                progress.update(Int64(i + 1))
                try Interrupt.check()
            }
        }
        verifiedLookups += count
    }

    func diskUsage(_ path: String, raw: Int64) -> (JSONObject, String) {
        let size = Files.totalSize(path)
        var json = JSONObject()
        json.set("bytesOnDisk", size.allocated)
        json.set("apparentBytes", size.apparent)
        json.set("rawBytes", raw)
        json.set("ratio", Double(size.allocated) / Double(raw))
        json.set("apparentRatio", Double(size.apparent) / Double(raw))
        let text =
            "\(Format.bytes(size.allocated)) on disk"
            + " = \(Format.fixed(Double(size.allocated) / Double(raw), 2)) × raw (\(Format.bytes(raw)));"
            + " file lengths \(Format.bytes(size.apparent))"
            + " = \(Format.fixed(Double(size.apparent) / Double(raw), 2)) × raw"
        return (json, text)
    }
}
