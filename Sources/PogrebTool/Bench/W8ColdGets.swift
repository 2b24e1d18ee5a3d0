import Glibc
import Pogreb
import Synchronization

extension WorkloadRunner {
    // MARK: W8 cold get

    func w8() throws(ToolError) -> WorkloadReport {
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
            let run = try lookups(
                "W8", db, threads: 1, total: coldLookups, label: preload ? "W8 index read" : "W8 cold")
            let lookupIO = ProcIO.since(startLookups)
            try close(db)
            let perLookup = Double(lookupIO.readBytes) / Double(coldLookups)
            let what = preload ? "cold get, index read first" : "cold get (page cache dropped)"
            report.rows.append(
                BenchRow(
                    id: "W8", what: what, threads: 1, ops: coldLookups, seconds: run.seconds,
                    note: "\(Format.fixed(perLookup, 0)) B (\(Format.fixed(perLookup / 4096, 2)) pages)"
                        + " from storage a lookup"))
            var detail =
                "\(preload ? "index read first" : "cold"): open \(Format.duration(openSeconds))"
                + " read \(Format.bytes(openIO.readBytes)) from storage;"
                + " \(Format.bytes(resident)) of the files were cached after the drop"
            if preload {
                detail +=
                    "; reading the index files (\(Format.bytes(indexBytes)))"
                    + " fetched \(Format.bytes(preloadIO.readBytes))"
            }
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
        if !ProcIO.read().available {
            report.details.append("/proc/self/io has no read_bytes here: storage figures are 0")
        }
        if fileSystemType(path) == "tmpfs" {
            report.details.append("the directory is on tmpfs: nothing is ever read from storage; use --path on a disk")
        }
        report.json.set("runs", runs)
        return report
    }
}
