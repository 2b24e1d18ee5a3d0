import Glibc
import PogrebWorkload
import Synchronization

/// W7 durable (docs/WORKLOADS.md): puts that each return only once durable, with the engine's
/// durable setting (``Engine/createDurable(path:)``), first on 1 thread, then on 4, `count` puts in
/// each run, into a new database each time (`dir/1`, `dir/4`). Thread t of T puts keys t, t + T,
/// t + 2T … below `count`, version 0. Afterwards every key is read back and checked.
/// Rows "W7" (1 thread) and "W7 4 threads"; nothing for an engine without files.
func durablePuts<E: Engine>(_ engine: E.Type, count: Int, dir: String) throws(CompareError) -> [Measurement] {
    guard mkdir(dir, 0o755) == 0 else { throw CompareError("mkdir \(dir): errno \(errno)") }
    var results: [Measurement] = []
    for threads in [1, 4] {
        let path = "\(dir)/\(threads)"
        guard let created = try E.createDurable(path: path) else { return [] }
        let db = UncheckedSendable(created)
        let collected = Mutex<[Outcome]>([])
        let ready = Barrier(threads)
        runOnThreads(threads) { t in
            var outcome = Outcome()
            do throws(CompareError) {
                let writer = try db.value.makeReader()
                var key = [UInt8](repeating: 0, count: WorkloadData.keySize)
                var value = [UInt8](repeating: 0, count: WorkloadData.valueSize)
                ready.arriveAndWait()
                outcome.start = nowNanoseconds()
                for id in stride(from: t, to: count, by: threads) {
                    WorkloadData.fillKey(UInt64(id), &key)
                    WorkloadData.fillValue(UInt64(id), version: 0, &value)
                    try writer.put(key, value)
                    outcome.ops += 1
                }
                outcome.end = nowNanoseconds()
            } catch {
                outcome.error = error.description
            }
            collected.withLock { $0.append(outcome) }
        }
        let outcomes = collected.withLock { $0 }
        if let error = outcomes.compactMap(\.error).first {
            try? db.value.close()
            throw CompareError("W7 \(threads) threads: \(error)")
        }
        // Every key must read back with its value.
        var measurement = Measurement(
            row: threads == 1 ? "W7" : "W7 \(threads) threads", threads: threads, ops: count,
            seconds: 0)
        do {
            // The reader (an LMDB read transaction …) must be gone before the engine closes.
            let reader = try db.value.makeReader()
            var key = [UInt8](repeating: 0, count: WorkloadData.keySize)
            for id in 0..<UInt64(count) {
                WorkloadData.fillKey(id, &key)
                let state = try reader.lend(key) { value in
                    guard let value else { return 1 }
                    return WorkloadData.matches(value, id, version: 0) ? 0 : 2
                }
                if state != 0 {
                    measurement.wrong += 1
                    if measurement.firstProblem == nil {
                        let what = state == 1 ? "is missing" : "has a wrong value"
                        measurement.firstProblem = "key \(id) \(what) after W7"
                    }
                }
            }
        }
        try db.value.close()
        let start = outcomes.map(\.start).min() ?? 0
        let end = outcomes.map(\.end).max() ?? 0
        measurement.seconds = Double(end &- start) / 1e9
        measurement.bytesOnDisk = bytesOnDisk(path)
        measurement.peakResidentBytes = peakResidentBytes()
        results.append(measurement)
    }
    return results
}
