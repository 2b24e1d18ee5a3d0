import Glibc
import Pogreb
import PogrebWorkload
import Synchronization

extension WorkloadRunner {
    // MARK: W1 load

    func w1() throws(ToolError) -> WorkloadReport {
        let path = root + "/w1"
        let times = try load(path, label: "W1 load")
        loaded = path
        let total = times.put + times.sync + times.close
        // The peak before the limit table exists, so that it is the engine's; the table is timed
        // here, then let go (W2 builds its own after it has measured the engine's memory).
        let peak = Memory.peakResident
        let limit = try LimitTable(n: n)
        var report = WorkloadReport(id: "W1")
        report.rows.append(
            BenchRow(
                id: "W1", what: "load: put in load order, sync, close", threads: 1, ops: n, seconds: total,
                note: "put \(Format.duration(times.put)), sync \(Format.duration(times.sync)),"
                    + " close \(Format.duration(times.close)); \(Format.fixed(limit.loadSeconds / total, 2)) × the limit"
            ))
        report.rows.append(
            BenchRow(
                id: "W1", what: "limit table: load in memory", threads: 1, ops: n, seconds: limit.loadSeconds,
                note: "an in-memory C hash table, no file (see docs/BENCHMARKS.md)"))
        let raw = Int64(WorkloadData.rawSize) * Int64(n)
        let (disk, diskText) = diskUsage(path, raw: raw)
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
        report.json.set("limitTableSeconds", limit.loadSeconds)
        report.json.set("disk", disk)
        report.json.set("peakResidentBytes", peak)
        return report
    }
}
