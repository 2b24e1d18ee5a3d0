import Glibc
import Pogreb
import PogrebWorkload
import Synchronization

extension WorkloadRunner {
    // MARK: W5 overwrite + compact

    func w5() throws(ToolError) -> WorkloadReport {
        let path = try loadedDatabase()
        let raw = Int64(WorkloadData.rawSize) * Int64(n)
        let sizeBefore = Files.totalSize(path)
        let db = try openDatabase(path)
        var key = [UInt8](repeating: 0, count: WorkloadData.keySize)
        var value = [UInt8](repeating: 0, count: WorkloadData.valueSize)
        let overwrites = (n + 1) / 2 * 2
        let progress = Progress("W5 overwrite", total: Int64(overwrites))
        let t0 = now()
        var done = 0
        for _ in 0..<2 {
            var i: UInt64 = 0
            while i < UInt64(n) {
                WorkloadData.fillKey(i, &key)
                WorkloadData.fillValue(i, version: 1, &value)
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
        report.rows.append(
            BenchRow(
                id: "W5", what: "overwrite every 2nd key twice, sync", threads: 1, ops: done,
                seconds: overwriteSeconds))
        report.rows.append(
            BenchRow(
                id: "W5", what: "compact", seconds: compactSeconds,
                note: "\(result.segmentsCompacted) segments rewritten,"
                    + " \(Format.grouped(result.recordsCopied)) records copied,"
                    + " \(Format.bytes(result.bytesReclaimed)) reclaimed"))
        report.details.append(
            "size on disk: after load \(Format.bytes(sizeBefore.allocated)),"
                + " after overwrites \(Format.bytes(sizeOverwritten.allocated))"
                + " (dead \(Format.bytes(statsBefore.deadBytes)) of \(Format.bytes(statsBefore.logBytes)) log),"
                + " after compaction \(Format.bytes(sizeAfter.allocated))"
                + " = \(Format.fixed(Double(sizeAfter.allocated) / Double(raw), 2)) × live raw data")
        if result.segmentsCompacted == 0 {
            report.details.append(
                "nothing was compacted: only sealed segments at least half dead qualify, and the log has"
                    + " \(statsBefore.segments.count) segment(s) (try --segment-size)")
        }
        report.details.append(
            "after compaction all \(Format.grouped(n)) keys verified (even ids version 1, odd ids version 0)")
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
}
