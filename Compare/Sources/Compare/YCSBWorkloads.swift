import Glibc
import PogrebWorkload
import Synchronization

/// The YCSB workload ids `--workloads` accepts: `YA1` (YCSB-A on one thread, for the ratio of two threads
/// to one), `YA`, `YB`, `YC`, `YF` (see ``YCSBData``).
let ycsbWorkloads = ["YA1", "YA", "YB", "YC", "YF"]

/// `Yload`: the YCSB records (1 KiB values, version 0) in a new database, one sync, close.
func loadYCSB<E: Engine>(_ engine: E.Type, n: Int, dir: String) throws(CompareError) -> Measurement {
    let records = YCSBData.records(n)
    let order = WorkloadData.loadOrder(records)
    let start = nowNanoseconds()
    _ = try E.load(path: dir, order: order, data: YCSBRecords.self, whileOpen: nil)
    let seconds = Double(nowNanoseconds() - start) / 1e9
    return Measurement(
        row: "Yload", threads: 1, ops: records, seconds: seconds, bytesOnDisk: bytesOnDisk(dir),
        rawBytes: Int64(records) * Int64(WorkloadData.keySize + YCSBData.valueSize),
        peakResidentBytes: peakResidentBytes())
}

/// One YCSB mix (`YA` …) on the database `Yload` made (and earlier mixes changed): N operations over
/// 2 threads (`YA1`: one thread), every read checked, then close and the space on disk over the live data.
func runYCSB<E: Engine>(_ engine: E.Type, mix id: String, n: Int, dir: String) throws(CompareError) -> Measurement {
    guard let mix = YCSBData.mixes[String(id.dropFirst().prefix(1))] else {
        throw CompareError("unknown YCSB mix \(id)")
    }
    let records = YCSBData.records(n)
    let zipfian = Zipfian(items: records)
    let db = UncheckedSendable(try E.openForWrites(path: dir, n: n))
    let threads = id.hasSuffix("1") ? 1 : YCSBData.threads
    let collected = Mutex<[(Outcome, [UInt32])]>([])
    let ready = Barrier(threads)
    runOnThreads(threads) { t in
        var outcome = Outcome()
        var latencies: [UInt32] = []
        do throws(CompareError) {
            let reader = try db.value.makeReader()
            let ops = n / threads + (t < n % threads ? 1 : 0)
            latencies = [UInt32](repeating: 0, count: ops)
            ready.arriveAndWait()
            outcome = latencies.withUnsafeMutableBufferPointer { buffer in
                ycsbLoop(
                    reader, thread: t, ops: ops, zipfian: zipfian, reads: mix.reads,
                    readModifyWrite: mix.readModifyWrite, latencies: buffer)
            }
        } catch {
            ready.arriveAndWait()
            outcome.error = error.description
        }
        collected.withLock { $0.append((outcome, latencies)) }
    }
    try db.value.close()
    let results = collected.withLock { $0 }
    if let error = results.compactMap(\.0.error).first { throw CompareError("\(id): \(error)") }
    var all = results.flatMap(\.1)
    all.sort()
    let pick = { (q: Double) in Double(all[min(all.count - 1, Int(Double(all.count) * q))]) }
    let start = results.map(\.0.start).min() ?? 0
    let end = results.map(\.0.end).max() ?? 0
    return Measurement(
        row: id, threads: threads, ops: n, seconds: Double(end &- start) / 1e9, p50Nanoseconds: pick(0.5),
        p99Nanoseconds: pick(0.99), p999Nanoseconds: pick(0.999), bytesOnDisk: bytesOnDisk(dir),
        rawBytes: Int64(records) * Int64(WorkloadData.keySize + YCSBData.valueSize),
        peakResidentBytes: peakResidentBytes(), wrong: results.reduce(0) { $0 + $1.0.wrong },
        firstProblem: results.compactMap(\.0.firstProblem).first)
}

/// One thread's YCSB operations; every read (also that of a read-modify-write) must return a whole
/// value of its key.
func ycsbLoop<R: Reader>(
    _ reader: R, thread t: Int, ops: Int, zipfian: Zipfian, reads: Int, readModifyWrite: Bool,
    latencies: UnsafeMutableBufferPointer<UInt32>
) -> Outcome {
    var stream = RandomStream(seed: 2001 + UInt64(t))
    var outcome = Outcome()
    var key = [UInt8](repeating: 0, count: WorkloadData.keySize)
    var value = [UInt8](repeating: 0, count: YCSBData.valueSize)
    var writes: UInt64 = 0
    func read(_ id: UInt64) throws(CompareError) {
        let state = try reader.lend(key) { value in
            guard let value else { return 1 }
            return YCSBData.matches(value, id) ? 0 : 2
        }
        if state != 0 {
            outcome.wrong += 1
            if outcome.firstProblem == nil {
                outcome.firstProblem = "key \(id) \(state == 1 ? "is missing" : "has a wrong value")"
            }
        }
    }
    func write(_ id: UInt64) throws(CompareError) {
        writes += 1
        YCSBData.fillValue(id, version: UInt64(t + 1) << 32 | writes, &value)
        try reader.put(key, value)
    }
    outcome.start = nowNanoseconds()
    var last = outcome.start
    do throws(CompareError) {
        for k in 0..<ops {
            let isRead = Int(stream.next() % 100) < reads
            let id = zipfian.scrambled(unitInterval(stream.next()))
            WorkloadData.fillKey(id, &key)
            if isRead {
                try read(id)
            } else if readModifyWrite {
                try read(id)
                try write(id)
            } else {
                try write(id)
            }
            let now = nowNanoseconds()
            latencies[k] = UInt32(clamping: now &- last)
            last = now
        }
    } catch {
        outcome.error = error.description
    }
    outcome.end = nowNanoseconds()
    outcome.ops = ops
    return outcome
}
