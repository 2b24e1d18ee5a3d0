import Glibc
import Pogreb
import Synchronization

/// Runs the workloads of WORKLOAD.md. Each returns a ``WorkloadReport``; a wrong value or a
/// missing key throws a ``ToolError`` with status `corrupted` naming the workload, key and value.
final class BenchRunner {
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
    private(set) var verifiedLookups = 0
    /// The directory of the database W1 loaded (closed), shared by W2, W3, W8 and W5.
    private var loaded: String?
    /// Databases open at the moment, closed by ``closeAll()`` when a workload fails.
    private var open: [Database] = []

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

    private func openDatabase(_ path: String, configure: (inout Options) -> Void = { _ in }) throws(ToolError) -> Database {
        var options = self.options
        configure(&options)
        let db = try engine("opening \(path)") { () throws(PogrebError) -> Database in try Database.open(at: path, options: options) }
        open.append(db)
        return db
    }

    private func close(_ db: Database) throws(ToolError) {
        try engine("closing") { () throws(PogrebError) in try db.close() }
        open.removeAll { $0 === db }
    }

    private func wrong(_ workload: String, _ what: String) -> ToolError {
        ToolError(.corrupted, "\(workload): \(what)")
    }

    private static func describeKey(_ id: UInt64) -> String {
        "key \(id) (\(Codec.hexString(BenchData.key(id))))"
    }

    /// Puts keys 0..<n in load order with version 0, syncs once and closes.
    /// - Returns: seconds for the puts, the sync and the close.
    /// Anonymous memory (RssAnon) at the end of the last load's puts, before sync and close.
    private var anonymousAfterLoad: Int64?

    private func load(_ path: String, label: String) throws(ToolError) -> (put: Double, sync: Double, close: Double) {
        let order = BenchData.loadOrder(n)
        let progress = Progress(label, total: Int64(n))
        let t0 = now()
        let db = try openDatabase(path)
        var key = [UInt8](repeating: 0, count: BenchData.keySize)
        var value = [UInt8](repeating: 0, count: BenchData.valueSize)
        do {
            var k = 0
            for id in order {
                BenchData.fillKey(UInt64(id), &key)
                BenchData.fillValue(UInt64(id), version: 0, &value)
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
            try engine { () throws(PogrebError) in try damaged.put(BenchData.key(id), BenchData.value(id, version: 9)) }
            try close(damaged)
        }
        return (t1 - t0, t2 - t1, t3 - t2)
    }

    /// The W1 database, loading it first (unreported) when W1 did not run.
    private func loadedDatabase() throws(ToolError) -> String {
        if let loaded { return loaded }
        let path = root + "/w1"
        _ = try load(path, label: "prepare")
        loaded = path
        return path
    }

    private struct LookupOutcome: Sendable {
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
    private static func lookupLoop(
        _ db: Database, seed: UInt64, ops: Int, n: Int, base: UInt64, present: Bool, version: UInt64, api: LookupAPI,
        latencies: UnsafeMutableBufferPointer<UInt32>?, progress: Progress?
    ) -> LookupOutcome {
        var stream = RandomStream(seed: seed)
        var key = [UInt8](repeating: 0, count: BenchData.keySize)
        var outcome = LookupOutcome()
        let space = UInt64(n)
        outcome.start = nowNanoseconds()
        var last = outcome.start
        for k in 0..<ops {
            let id = base &+ stream.next() % space
            BenchData.fillKey(id, &key)
            // 0: as expected, 1: absent, 2: wrong value, 3: present but should be absent
            var state = 0
            do {
                switch api {
                case .get:
                    if let value = try db.get(key) {
                        if !present { state = 3 } else if !value.withUnsafeBytes({ BenchData.matches($0, id, version: version) }) { state = 2 }
                    } else if present {
                        state = 1
                    }
                case .withValue:
                    state = try db.withValue(forKey: key) { raw -> Int in
                        guard let raw else { return present ? 1 : 0 }
                        if !present { return 3 }
                        return BenchData.matches(raw, id, version: version) ? 0 : 2
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
                    outcome.firstProblem = [1: "\(describeKey(id)) is missing", 2: "\(describeKey(id)) has a wrong value", 3: "\(describeKey(id)) should be absent but was found"][state]
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
    private static func countingLoop(_ db: Database, api: LookupAPI, ops: Int, n: Int) {
        var stream = RandomStream(seed: 7)
        var key = [UInt8](repeating: 0, count: BenchData.keySize)
        var sum = 0
        for _ in 0..<ops {
            BenchData.fillKey(stream.next() % UInt64(n), &key)
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
    private func lookups(
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
                BenchRunner.lookupLoop(
                    db, seed: BenchData.lookupSeed(thread: 0, of: 1), ops: total, n: n, base: base, present: present,
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
                let outcome = BenchRunner.lookupLoop(
                    db, seed: BenchData.lookupSeed(thread: t, of: threads), ops: ops, n: n, base: base, present: present,
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
            throw wrong(workload, "\(label): \(wrongCount) wrong values, \(missing) missing keys, \(unexpected) keys found that should be absent, in \(total) lookups (first: \(first))")
        }
        verifiedLookups += total
        let start = outcomes.map(\.start).min() ?? 0
        let end = outcomes.map(\.end).max() ?? 0
        return (Double(end &- start) / 1e9, percentiles)
    }

    /// Reads every key 0..<count in id order and checks its version.
    private func verifyAll(_ workload: String, _ db: Database, count: Int, label: String, version: (UInt64) -> UInt64) throws(ToolError) {
        var key = [UInt8](repeating: 0, count: BenchData.keySize)
        let progress = Progress(label, total: Int64(count))
        defer { progress.finish() }
        for i in 0..<UInt64(count) {
            BenchData.fillKey(i, &key)
            let expected = version(i)
            let value: [UInt8]?
            do { value = try db.get(key) } catch { throw ToolError(error, context: "\(workload): \(label): \(BenchRunner.describeKey(i))") }
            guard let value else { throw wrong(workload, "\(label): \(BenchRunner.describeKey(i)) is missing") }
            guard value.withUnsafeBytes({ BenchData.matches($0, i, version: expected) }) else {
                let actual = value.withUnsafeBytes { BenchData.version(of: $0, i, among: [0, 1, 2]) }
                throw wrong(workload, "\(label): \(BenchRunner.describeKey(i)) has \(actual.map { "version \($0)" } ?? "a value of no version"), expected version \(expected)")
            }
            if i & 0xFFFF == 0xFFFF {
                progress.update(Int64(i + 1))
                try Interrupt.check()
            }
        }
        verifiedLookups += count
    }

    private func diskUsage(_ path: String, raw: Int64) -> (JSONObject, String) {
        let size = Files.totalSize(path)
        var json = JSONObject()
        json.set("bytesOnDisk", size.allocated)
        json.set("apparentBytes", size.apparent)
        json.set("rawBytes", raw)
        json.set("ratio", Double(size.allocated) / Double(raw))
        json.set("apparentRatio", Double(size.apparent) / Double(raw))
        let text = "\(Format.bytes(size.allocated)) on disk = \(Format.fixed(Double(size.allocated) / Double(raw), 2)) × raw (\(Format.bytes(raw))); file lengths \(Format.bytes(size.apparent)) = \(Format.fixed(Double(size.apparent) / Double(raw), 2)) × raw"
        return (json, text)
    }

    // MARK: W1 load

    private func w1() throws(ToolError) -> WorkloadReport {
        let path = root + "/w1"
        let times = try load(path, label: "W1 load")
        loaded = path
        let total = times.put + times.sync + times.close
        var report = WorkloadReport(id: "W1")
        report.rows.append(BenchRow(
            id: "W1", what: "load: put in load order, sync, close", threads: 1, ops: n, seconds: total,
            note: "put \(Format.duration(times.put)), sync \(Format.duration(times.sync)), close \(Format.duration(times.close))"))
        let raw = Int64(BenchData.rawSize) * Int64(n)
        let (disk, diskText) = diskUsage(path, raw: raw)
        let peak = Memory.peakResident
        report.details.append("size: " + diskText)
        var memory = "memory: peak RSS \(Format.bytes(peak)) (mapped file pages included)"
        if let anonymous = anonymousAfterLoad {
            memory += ", anonymous memory at the end of the puts \(Format.bytes(anonymous))"
            report.json.set("anonymousBytesAfterPuts", anonymous)
        }
        report.details.append(memory)
        report.json.set("seconds", total)
        report.json.set("opsPerSecond", Double(n) / total)
        report.json.set("putSeconds", times.put)
        report.json.set("syncSeconds", times.sync)
        report.json.set("closeSeconds", times.close)
        report.json.set("disk", disk)
        report.json.set("peakResidentBytes", peak)
        return report
    }

    // MARK: W2 get

    private func w2() throws(ToolError) -> WorkloadReport {
        let path = try loadedDatabase()
        var report = WorkloadReport(id: "W2")
        let t0 = now()
        let db = try openDatabase(path)
        let openSeconds = now() - t0
        let one = try lookups("W2", db, threads: 1, total: n, timed: true, label: "W2 get 1")
        let two = try lookups("W2", db, threads: 2, total: n, label: "W2 get 2")
        let warm = try lookups("W2", db, threads: 1, total: n, label: "W2 get 1 warm")
        let zeroCopy = try lookups("W2", db, threads: 1, total: n, api: .withValue, label: "W2 withValue")

        // Allocations: a separate, shorter pass in a child process (see AllocationCounter).
        let sample = min(n, 100_000)
        let allocationsGet = AllocationCounter.measure {
            BenchRunner.countingLoop(db, api: .get, ops: sample, n: n)
        }.map { Double($0) / Double(sample) }
        let allocationsWithValue = AllocationCounter.measure {
            BenchRunner.countingLoop(db, api: .withValue, ops: sample, n: n)
        }.map { Double($0) / Double(sample) }
        let rss = Memory.status("VmRSS")
        let anon = Memory.status("RssAnon")
        try close(db)

        report.rows.append(BenchRow(id: "W2", what: "open (clean)", seconds: openSeconds))
        report.rows.append(BenchRow(
            id: "W2", what: "get, random hits", threads: 1, ops: n, seconds: one.seconds,
            note: one.latencies.map { $0.text + " (one clock read a lookup)" } ?? ""))
        report.rows.append(BenchRow(
            id: "W2", what: "get, random hits", threads: 2, ops: n, seconds: two.seconds,
            note: "\(Format.fixed(one.seconds / two.seconds, 2)) × 1 thread"))
        report.rows.append(BenchRow(id: "W2", what: "get, random hits (warm)", threads: 1, ops: n, seconds: warm.seconds))
        report.rows.append(BenchRow(id: "W2", what: "withValue (zero-copy), random hits", threads: 1, ops: n, seconds: zeroCopy.seconds))
        let describe = { (value: Double?) in value.map { Format.fixed($0, 2) } ?? "n/a" }
        report.details.append("allocations per lookup (Swift heap objects): get \(describe(allocationsGet)) (the returned array), withValue \(describe(allocationsWithValue))")
        if let rss, let anon {
            report.details.append("memory with the database open: RSS \(Format.bytes(rss)), anonymous \(Format.bytes(anon))")
        }
        report.json.set("openSeconds", openSeconds)
        var runs: [JSONObject] = []
        for (name, threads, run) in [("get", 1, one), ("get", 2, two), ("get warm", 1, warm), ("withValue", 1, zeroCopy)] {
            var o = JSONObject()
            o.set("api", name)
            o.set("threads", threads)
            o.set("ops", n)
            o.set("seconds", run.seconds)
            o.set("opsPerSecond", Double(n) / run.seconds)
            if let latencies = run.latencies { o.set("latencyNanoseconds", latencies.json) }
            runs.append(o)
        }
        report.json.set("runs", runs)
        if let allocationsGet { report.json.set("allocationsPerGet", allocationsGet) } else { report.json.setNull("allocationsPerGet") }
        if let allocationsWithValue { report.json.set("allocationsPerWithValue", allocationsWithValue) } else { report.json.setNull("allocationsPerWithValue") }
        if let rss { report.json.set("residentBytes", rss) }
        if let anon { report.json.set("anonymousBytes", anon) }
        return report
    }

    // MARK: W3 miss

    private func w3() throws(ToolError) -> WorkloadReport {
        let path = try loadedDatabase()
        let db = try openDatabase(path)
        _ = ProcIO.overhead
        let before = ProcIO.read()
        let run = try lookups("W3", db, threads: 1, total: n, base: UInt64(n), present: false, label: "W3 miss")
        let io = ProcIO.since(before)
        try close(db)
        var report = WorkloadReport(id: "W3")
        var note = "keys i ≥ N, all absent as expected"
        if io.available || io.syscr > 0 {
            note = "read syscalls per miss \(Format.fixed(Double(io.syscr) / Double(n), 4)), storage bytes per miss \(Format.fixed(Double(io.readBytes) / Double(n), 1))"
        }
        report.rows.append(BenchRow(id: "W3", what: "get, absent keys", threads: 1, ops: n, seconds: run.seconds, note: note))
        report.details.append("/proc/self/io over the run: \(io.syscr) read syscalls, \(Format.bytes(io.rchar)) through read calls, \(Format.bytes(io.readBytes)) from storage (mmap'd segments show as page faults, not syscalls)")
        report.json.set("seconds", run.seconds)
        report.json.set("opsPerSecond", Double(n) / run.seconds)
        report.json.set("readSyscallsPerMiss", Double(io.syscr) / Double(n))
        report.json.set("readCharsPerMiss", Double(io.rchar) / Double(n))
        report.json.set("storageBytesPerMiss", Double(io.readBytes) / Double(n))
        return report
    }

    // MARK: W5 overwrite + compact

    private func w5() throws(ToolError) -> WorkloadReport {
        let path = try loadedDatabase()
        let raw = Int64(BenchData.rawSize) * Int64(n)
        let sizeBefore = Files.totalSize(path)
        let db = try openDatabase(path)
        var key = [UInt8](repeating: 0, count: BenchData.keySize)
        var value = [UInt8](repeating: 0, count: BenchData.valueSize)
        let overwrites = (n + 1) / 2 * 2
        let progress = Progress("W5 overwrite", total: Int64(overwrites))
        let t0 = now()
        var done = 0
        for _ in 0..<2 {
            var i: UInt64 = 0
            while i < UInt64(n) {
                BenchData.fillKey(i, &key)
                BenchData.fillValue(i, version: 1, &value)
                do { try db.put(key, value) } catch { throw ToolError(error, context: "W5: overwrite") }
                done += 1
                if done & 0xFFFF == 0 {
                    progress.update(Int64(done))
                    try Interrupt.check()
                }
                i += 2
            }
        }
        try engine("W5: sync") { () throws(PogrebError) in try db.sync() }
        progress.finish()
        let overwriteSeconds = now() - t0
        let sizeOverwritten = Files.totalSize(path)
        let statsBefore = try engine { () throws(PogrebError) -> Statistics in try db.statistics }
        let t1 = now()
        let result = try withTicker("W5 compact") { () throws(ToolError) -> CompactionResult in
            try engine("W5: compact") { () throws(PogrebError) -> CompactionResult in try db.compact() }
        }
        let compactSeconds = now() - t1
        let statsAfter = try engine { () throws(PogrebError) -> Statistics in try db.statistics }
        try close(db)
        let sizeAfter = Files.totalSize(path)
        let check = try openDatabase(path)
        try verifyAll("W5", check, count: n, label: "W5 verify") { $0 % 2 == 0 ? 1 : 0 }
        try close(check)

        var report = WorkloadReport(id: "W5")
        report.rows.append(BenchRow(id: "W5", what: "overwrite every 2nd key twice, sync", threads: 1, ops: done, seconds: overwriteSeconds))
        report.rows.append(BenchRow(
            id: "W5", what: "compact", seconds: compactSeconds,
            note: "\(result.segmentsCompacted) segments rewritten, \(Format.grouped(result.recordsCopied)) records copied, \(Format.bytes(result.bytesReclaimed)) reclaimed"))
        report.details.append("size on disk: after load \(Format.bytes(sizeBefore.allocated)), after overwrites \(Format.bytes(sizeOverwritten.allocated)) (dead \(Format.bytes(statsBefore.deadBytes)) of \(Format.bytes(statsBefore.logBytes)) log), after compaction \(Format.bytes(sizeAfter.allocated)) = \(Format.fixed(Double(sizeAfter.allocated) / Double(raw), 2)) × live raw data")
        if result.segmentsCompacted == 0 {
            report.details.append("nothing was compacted: only sealed segments at least half dead qualify, and the log has \(statsBefore.segments.count) segment(s) (try --segment-size)")
        }
        report.details.append("after compaction all \(Format.grouped(n)) keys verified (even ids version 1, odd ids version 0)")
        report.json.set("overwriteSeconds", overwriteSeconds)
        report.json.set("compactSeconds", compactSeconds)
        report.json.set("segmentsCompacted", result.segmentsCompacted)
        report.json.set("recordsCopied", result.recordsCopied)
        report.json.set("bytesReclaimed", result.bytesReclaimed)
        report.json.set("bytesOnDiskAfterLoad", sizeBefore.allocated)
        report.json.set("bytesOnDiskBeforeCompaction", sizeOverwritten.allocated)
        report.json.set("bytesOnDiskAfterCompaction", sizeAfter.allocated)
        report.json.set("deadBytesAfterCompaction", statsAfter.deadBytes)
        report.json.set("liveRawBytes", raw)
        report.json.set("ratioAfterToLiveRaw", Double(sizeAfter.allocated) / Double(raw))
        return report
    }

    // MARK: W6 recovery

    private func w6() throws(ToolError) -> WorkloadReport {
        let path = root + "/w6"
        let executable = try pogrebExecutable()
        let tail = max(1, n / 100)
        var extra: [String] = []
        if let segmentSize { extra = ["--segment-size", String(segmentSize)] }

        // 1. A child loads N keys, syncs, and is killed.
        let t0 = now()
        let loader = try ChildProcess(executable: executable, arguments: ["_bench-child", "load", "--path", path, "--count", String(n)] + extra)
        let progress = Progress("W6 load", total: nil, unit: .items("s"))
        var line: String?
        while line == nil {
            line = loader.readLine(timeout: 0.5)
            if line == nil {
                progress.update(Int64(now() - t0))
                if Interrupt.requested { throw Interrupt.error }
                var status: Int32 = 0
                if waitpid(loader.pid, &status, WNOHANG) == loader.pid {
                    progress.finish()
                    throw ToolError(.io, "W6: the loading child process exited (status \(status)) before it synced")
                }
            }
        }
        progress.finish()
        guard line == "synced" else { throw ToolError(.io, "W6: unexpected output from the child: \(line ?? "")") }
        let loadSeconds = now() - t0
        loader.kill(SIGKILL)
        let status = loader.wait()
        guard ChildProcess.wasKilled(status, by: SIGKILL) else { throw ToolError(.io, "W6: the child was not killed by SIGKILL (status \(status))") }

        // 2. Open after the crash, nothing written after the last sync.
        var t = now()
        var db = try openDatabase(path)
        let noTailSeconds = now() - t
        let noTailStats = try engine { () throws(PogrebError) -> Statistics in try db.statistics }
        try verifyAll("W6", db, count: n, label: "W6 verify") { _ in 0 }
        try close(db)

        // 3. A child writes N/100 more keys without syncing, and is killed.
        let writer = try ChildProcess(executable: executable, arguments: ["_bench-child", "tail", "--path", path, "--count", String(n), "--tail", String(tail)] + extra)
        guard writer.readLine(timeout: 600) == "written" else { throw ToolError(.io, "W6: the tail-writing child did not finish") }
        writer.kill(SIGKILL)
        writer.wait()

        // 4. Open after the crash with a tail.
        t = now()
        db = try openDatabase(path)
        let tailSeconds = now() - t
        let tailStats = try engine { () throws(PogrebError) -> Statistics in try db.statistics }
        try verifyAll("W6", db, count: n, label: "W6 verify") { _ in 0 }
        // The tail keys that survived must be a prefix of the ones written, with right values.
        var key = [UInt8](repeating: 0, count: BenchData.keySize)
        var recovered = 0
        var ended = false
        for id in UInt64(n)..<UInt64(n + tail) {
            BenchData.fillKey(id, &key)
            let value = try engine("W6") { () throws(PogrebError) -> [UInt8]? in try db.get(key) }
            if let value {
                if ended { throw wrong("W6", "\(BenchRunner.describeKey(id)) survived the crash but an earlier key of the tail did not") }
                guard value.withUnsafeBytes({ BenchData.matches($0, id, version: 0) }) else {
                    throw wrong("W6", "\(BenchRunner.describeKey(id)) of the tail has a wrong value after recovery")
                }
                recovered += 1
            } else {
                ended = true
            }
        }
        verifiedLookups += tail
        try close(db)

        // 5. A clean open.
        t = now()
        db = try openDatabase(path)
        let cleanSeconds = now() - t
        try close(db)

        var report = WorkloadReport(id: "W6")
        report.rows.append(BenchRow(id: "W6", what: "load in a child, sync, SIGKILL", threads: 1, ops: n, seconds: loadSeconds))
        report.rows.append(BenchRow(
            id: "W6", what: "open after crash, no tail", seconds: noTailSeconds,
            note: "\(Format.grouped(noTailStats.recordsReplayedAtOpen)) records replayed; \(Format.grouped(n)) keys verified"))
        report.rows.append(BenchRow(
            id: "W6", what: "open after crash, \(Format.grouped(tail))-put tail", seconds: tailSeconds,
            note: "\(Format.grouped(tailStats.recordsReplayedAtOpen)) records replayed, \(Format.grouped(recovered)) of \(Format.grouped(tail)) tail keys survived (unsynced), all correct"))
        report.rows.append(BenchRow(id: "W6", what: "open (clean)", seconds: cleanSeconds))
        if !tailStats.tornTails.isEmpty { report.details.append("torn tail cut at open: " + tailStats.tornTails.joined(separator: "; ")) }
        report.json.set("cleanOpenSeconds", cleanSeconds)
        report.json.set("crashNoTailOpenSeconds", noTailSeconds)
        report.json.set("crashNoTailRecordsReplayed", noTailStats.recordsReplayedAtOpen)
        report.json.set("crashTailOpenSeconds", tailSeconds)
        report.json.set("crashTailRecordsReplayed", tailStats.recordsReplayedAtOpen)
        report.json.set("tailPuts", tail)
        report.json.set("tailKeysRecovered", recovered)
        report.json.set("keysVerified", n * 2 + tail)
        return report
    }

    // MARK: W7 durable

    private func w7() throws(ToolError) -> WorkloadReport {
        var report = WorkloadReport(id: "W7")
        let total = durableCount
        let order = BenchData.loadOrder(total)
        var single = 0.0
        var runs: [JSONObject] = []
        for threads in [1, 4] {
            let path = root + "/w7-\(threads)"
            let db = try openDatabase(path) { $0.syncPolicy = .everyWrite }
            let failure = Mutex<String?>(nil)
            let label = "W7 \(threads) thread\(threads == 1 ? "" : "s")"
            let progress = threads == 1 ? Progress(label, total: Int64(total)) : nil
            let t0 = now()
            if threads == 1 {
                var key = [UInt8](repeating: 0, count: BenchData.keySize)
                var value = [UInt8](repeating: 0, count: BenchData.valueSize)
                for (k, id) in order.enumerated() {
                    BenchData.fillKey(UInt64(id), &key)
                    BenchData.fillValue(UInt64(id), version: 0, &value)
                    do { try db.put(key, value) } catch { throw ToolError(error, context: "W7: put") }
                    if k & 255 == 255 {
                        progress?.update(Int64(k + 1))
                        try Interrupt.check()
                    }
                }
            } else {
                runOnThreads(threads) { t in
                    var key = [UInt8](repeating: 0, count: BenchData.keySize)
                    var value = [UInt8](repeating: 0, count: BenchData.valueSize)
                    var k = t
                    while k < order.count {
                        let id = UInt64(order[k])
                        BenchData.fillKey(id, &key)
                        BenchData.fillValue(id, version: 0, &value)
                        do { try db.put(key, value) } catch {
                            failure.withLock { $0 = $0 ?? "\(error)" }
                            return
                        }
                        if Interrupt.requested { return }
                        k += threads
                    }
                }
            }
            let seconds = now() - t0
            progress?.finish()
            if let failure = failure.withLock({ $0 }) { throw ToolError(.io, "W7: put failed: \(failure)") }
            try Interrupt.check()
            try close(db)
            let check = try openDatabase(path)
            var key = [UInt8](repeating: 0, count: BenchData.keySize)
            for id in order {
                BenchData.fillKey(UInt64(id), &key)
                let value = try engine("W7") { () throws(PogrebError) -> [UInt8]? in try check.get(key) }
                guard let value, value.withUnsafeBytes({ BenchData.matches($0, UInt64(id), version: 0) }) else {
                    throw wrong("W7", "\(BenchRunner.describeKey(UInt64(id))) is missing or wrong after a durable put")
                }
            }
            verifiedLookups += total
            try close(check)
            if threads == 1 { single = seconds }
            report.rows.append(BenchRow(
                id: "W7", what: "durable put (sync every write)", threads: threads, ops: total, seconds: seconds,
                note: threads == 1 ? "\(Format.duration(seconds / Double(total))) a put" : "\(Format.fixed(single / seconds, 2)) × 1 thread (group commit)"))
            var o = JSONObject()
            o.set("threads", threads)
            o.set("ops", total)
            o.set("seconds", seconds)
            o.set("opsPerSecond", Double(total) / seconds)
            runs.append(o)
        }
        report.json.set("runs", runs)
        return report
    }

    // MARK: W8 cold get

    private func w8() throws(ToolError) -> WorkloadReport {
        let path = try loadedDatabase()
        var report = WorkloadReport(id: "W8")
        var runs: [JSONObject] = []
        for preload in [false, true] {
            let failures = PageCache.drop(path)
            if !failures.isEmpty { report.details.append("posix_fadvise failed: " + failures.joined(separator: "; ")) }
            let resident = PageCache.residentBytes(path)
            _ = ProcIO.overhead
            let before = ProcIO.read()
            let t0 = now()
            let db = try openDatabase(path)
            let openSeconds = now() - t0
            let openIO = ProcIO.since(before)
            var indexBytes: Int64 = 0
            var preloadIO = ProcIO()
            if preload {
                let start = ProcIO.read()
                indexBytes = PageCache.readThrough(path) { $0.hasSuffix(".pgi") || $0.hasSuffix(".pgo") }
                preloadIO = ProcIO.since(start)
            }
            let startLookups = ProcIO.read()
            let run = try lookups("W8", db, threads: 1, total: coldLookups, label: preload ? "W8 index read" : "W8 cold")
            let lookupIO = ProcIO.since(startLookups)
            try close(db)
            let perLookup = Double(lookupIO.readBytes) / Double(coldLookups)
            let what = preload ? "cold get, index read first" : "cold get (page cache dropped)"
            report.rows.append(BenchRow(
                id: "W8", what: what, threads: 1, ops: coldLookups, seconds: run.seconds,
                note: "\(Format.fixed(perLookup, 0)) B (\(Format.fixed(perLookup / 4096, 2)) pages) from storage a lookup"))
            var detail = "\(preload ? "index read first" : "cold"): open \(Format.duration(openSeconds)) read \(Format.bytes(openIO.readBytes)) from storage; \(Format.bytes(resident)) of the files were cached after the drop"
            if preload { detail += "; reading the index files (\(Format.bytes(indexBytes))) fetched \(Format.bytes(preloadIO.readBytes))" }
            report.details.append(detail)
            var o = JSONObject()
            o.set("indexReadFirst", preload)
            o.set("lookups", coldLookups)
            o.set("seconds", run.seconds)
            o.set("opsPerSecond", Double(coldLookups) / run.seconds)
            o.set("storageBytesPerLookup", perLookup)
            o.set("openSeconds", openSeconds)
            o.set("openStorageBytes", openIO.readBytes)
            o.set("residentBytesAfterDrop", resident)
            if preload { o.set("indexBytesRead", indexBytes) }
            runs.append(o)
        }
        if !ProcIO.read().available { report.details.append("/proc/self/io has no read_bytes here: storage figures are 0") }
        if fileSystemType(path) == "tmpfs" { report.details.append("the directory is on tmpfs: nothing is ever read from storage; use --path on a disk") }
        report.json.set("runs", runs)
        return report
    }

    // MARK: W9 pogreb-bench

    private func w9() throws(ToolError) -> WorkloadReport {
        let path = root + "/w9"
        let order = BenchData.loadOrder(n)
        var raw: Int64 = 0
        let progress = Progress("W9 load", total: Int64(n))
        let t0 = now()
        var db = try openDatabase(path)
        var key: [UInt8] = []
        var value: [UInt8] = []
        key.reserveCapacity(64)
        value.reserveCapacity(512)
        for (k, id) in order.enumerated() {
            W9Data.fillKey(UInt64(id), &key)
            W9Data.fillValue(UInt64(id), &value)
            raw += Int64(key.count + value.count)
            do { try db.put(key, value) } catch { throw ToolError(error, context: "W9: put") }
            if k & 0xFFFF == 0xFFFF {
                progress.update(Int64(k + 1))
                try Interrupt.check()
            }
        }
        try engine("W9: sync") { () throws(PogrebError) in try db.sync() }
        try close(db)
        progress.finish()
        let loadSeconds = now() - t0
        let (disk, diskText) = diskUsage(path, raw: raw)

        db = try openDatabase(path)
        var stream = RandomStream(seed: 7)
        var samples = [UInt32](repeating: 0, count: n)
        let getProgress = Progress("W9 get", total: Int64(n))
        let start = nowNanoseconds()
        var last = start
        for k in 0..<n {
            let id = stream.next() % UInt64(n)
            W9Data.fillKey(id, &key)
            let value: [UInt8]?
            do { value = try db.get(key) } catch { throw ToolError(error, context: "W9: get") }
            guard let value else { throw wrong("W9", "key \(id) (\(Codec.escapedString(key))) is missing") }
            guard value.withUnsafeBytes({ W9Data.matches($0, id) }) else {
                throw wrong("W9", "key \(id) (\(Codec.escapedString(key))) has a wrong value")
            }
            let t = nowNanoseconds()
            samples[k] = UInt32(clamping: t &- last)
            last = t
            if k & 0xFFFF == 0xFFFF {
                getProgress.update(Int64(k + 1))
                try Interrupt.check()
            }
        }
        let getSeconds = Double(nowNanoseconds() &- start) / 1e9
        getProgress.finish()
        verifiedLookups += n
        try close(db)
        let latencies = Percentiles(&samples)

        var report = WorkloadReport(id: "W9")
        report.rows.append(BenchRow(id: "W9", what: "load: keys 16–64 B, values 128–512 B", threads: 1, ops: n, seconds: loadSeconds))
        report.rows.append(BenchRow(id: "W9", what: "get, random hits", threads: 1, ops: n, seconds: getSeconds, note: latencies.text))
        report.details.append("size: " + diskText)
        report.json.set("loadSeconds", loadSeconds)
        report.json.set("loadOpsPerSecond", Double(n) / loadSeconds)
        report.json.set("disk", disk)
        report.json.set("getSeconds", getSeconds)
        report.json.set("getOpsPerSecond", Double(n) / getSeconds)
        report.json.set("latencyNanoseconds", latencies.json)
        return report
    }
}
