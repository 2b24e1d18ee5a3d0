import Glibc
import Pogreb
import PogrebWorkload
import Synchronization

extension WorkloadRunner {
    // MARK: W7 durable

    func w7() throws(ToolError) -> WorkloadReport {
        var report = WorkloadReport(id: "W7")
        let total = durableCount
        let order = WorkloadData.loadOrder(total)
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
                var key = [UInt8](repeating: 0, count: WorkloadData.keySize)
                var value = [UInt8](repeating: 0, count: WorkloadData.valueSize)
                for (k, id) in order.enumerated() {
                    WorkloadData.fillKey(UInt64(id), &key)
                    WorkloadData.fillValue(UInt64(id), version: 0, &value)
                    do { try db.put(key, value) } catch { throw ToolError(error, context: "W7: put") }
                    if k & 255 == 255 {
                        progress?.update(Int64(k + 1))
                        try Interrupt.check()
                    }
                }
            } else {
                runOnThreads(threads) { t in
                    var key = [UInt8](repeating: 0, count: WorkloadData.keySize)
                    var value = [UInt8](repeating: 0, count: WorkloadData.valueSize)
                    var k = t
                    while k < order.count {
                        let id = UInt64(order[k])
                        WorkloadData.fillKey(id, &key)
                        WorkloadData.fillValue(id, version: 0, &value)
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
            var key = [UInt8](repeating: 0, count: WorkloadData.keySize)
            for id in order {
                WorkloadData.fillKey(UInt64(id), &key)
                let value = try engine("W7") { () throws(PogrebError) -> [UInt8]? in try check.get(key) }
                guard let value, value.withUnsafeBytes({ WorkloadData.matches($0, UInt64(id), version: 0) }) else {
                    throw wrong(
                        "W7", "\(WorkloadRunner.describeKey(UInt64(id))) is missing or wrong after a durable put")
                }
            }
            verifiedLookups += total
            try close(check)
            if threads == 1 { single = seconds }
            report.rows.append(
                BenchRow(
                    id: "W7", what: "durable put (sync every write)", threads: threads, ops: total, seconds: seconds,
                    note: threads == 1
                        ? "\(Format.duration(seconds / Double(total))) a put"
                        : "\(Format.fixed(single / seconds, 2)) × 1 thread (group commit)"))
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
}
