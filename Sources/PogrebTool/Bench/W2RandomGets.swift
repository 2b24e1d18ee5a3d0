import Glibc
import Pogreb
import Synchronization

extension WorkloadRunner {
    // MARK: W2 get

    func w2() throws(ToolError) -> WorkloadReport {
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
            WorkloadRunner.countingLoop(db, api: .get, ops: sample, n: n)
        }.map { Double($0) / Double(sample) }
        let allocationsWithValue = AllocationCounter.measure {
            WorkloadRunner.countingLoop(db, api: .withValue, ops: sample, n: n)
        }.map { Double($0) / Double(sample) }
        let rss = Memory.status("VmRSS")
        let anon = Memory.status("RssAnon")
        try close(db)
        // The limit table on the same lookups, built after the engine's memory was measured.
        let limit = try LimitTable(n: n)
        let limitGet = try limit.lookups(copy: true)
        let limitLend = try limit.lookups(copy: false)
        verifiedLookups += 2 * n
        let ofLimit = { (seconds: Double, limit: Double) in "\(Format.fixed(limit / seconds, 2)) × the limit" }

        report.rows.append(BenchRow(id: "W2", what: "open (clean)", seconds: openSeconds))
        report.rows.append(
            BenchRow(
                id: "W2", what: "get, random hits", threads: 1, ops: n, seconds: one.seconds,
                note: one.latencies.map { $0.text + " (one clock read a lookup)" } ?? ""))
        report.rows.append(
            BenchRow(
                id: "W2", what: "get, random hits", threads: 2, ops: n, seconds: two.seconds,
                note: "\(Format.fixed(one.seconds / two.seconds, 2)) × 1 thread"))
        report.rows.append(
            BenchRow(
                id: "W2", what: "get, random hits (warm)", threads: 1, ops: n, seconds: warm.seconds,
                note: ofLimit(warm.seconds, limitGet)))
        report.rows.append(
            BenchRow(
                id: "W2", what: "withValue (zero-copy), random hits", threads: 1, ops: n, seconds: zeroCopy.seconds,
                note: ofLimit(zeroCopy.seconds, limitLend)))
        report.rows.append(
            BenchRow(
                id: "W2", what: "limit table: get (copy), same keys", threads: 1, ops: n, seconds: limitGet,
                note: "in memory, C; the yardstick of the two rows above"))
        report.rows.append(
            BenchRow(id: "W2", what: "limit table: lend, same keys", threads: 1, ops: n, seconds: limitLend))
        let describe = { (value: Double?) in value.map { Format.fixed($0, 2) } ?? "n/a" }
        report.details.append(
            "allocations per lookup (Swift heap objects): get \(describe(allocationsGet)) (the returned array),"
                + " withValue \(describe(allocationsWithValue))")
        if let rss, let anon {
            report.details.append(
                "memory with the database open: RSS \(Format.bytes(rss)), anonymous \(Format.bytes(anon))")
        }
        report.json.set("openSeconds", openSeconds)
        var runs: [JSONObject] = []
        let allRuns = [("get", 1, one), ("get", 2, two), ("get warm", 1, warm), ("withValue", 1, zeroCopy)]
        for (name, threads, run) in allRuns {
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
        report.json.set("limitTableGetSeconds", limitGet)
        report.json.set("limitTableLendSeconds", limitLend)
        if let allocationsGet {
            report.json.set("allocationsPerGet", allocationsGet)
        } else {
            report.json.setNull("allocationsPerGet")
        }
        if let allocationsWithValue {
            report.json.set("allocationsPerWithValue", allocationsWithValue)
        } else {
            report.json.setNull("allocationsPerWithValue")
        }
        if let rss { report.json.set("residentBytes", rss) }
        if let anon { report.json.set("anonymousBytes", anon) }
        return report
    }
}
