import Glibc
import Pogreb
import PogrebWorkload
import Synchronization

extension WorkloadRunner {
    // MARK: W9 pogreb-bench

    func w9() throws(ToolError) -> WorkloadReport {
        let path = root + "/w9"
        let order = WorkloadData.loadOrder(n)
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
        report.rows.append(
            BenchRow(id: "W9", what: "load: keys 16–64 B, values 128–512 B", threads: 1, ops: n, seconds: loadSeconds))
        report.rows.append(
            BenchRow(id: "W9", what: "get, random hits", threads: 1, ops: n, seconds: getSeconds, note: latencies.text))
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
