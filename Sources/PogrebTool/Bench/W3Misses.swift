import Glibc
import Pogreb
import Synchronization

extension WorkloadRunner {
    // MARK: W3 miss

    func w3() throws(ToolError) -> WorkloadReport {
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
            note =
                "read syscalls per miss \(Format.fixed(Double(io.syscr) / Double(n), 4)),"
                + " storage bytes per miss \(Format.fixed(Double(io.readBytes) / Double(n), 1))"
        }
        report.rows.append(
            BenchRow(id: "W3", what: "get, absent keys", threads: 1, ops: n, seconds: run.seconds, note: note))
        report.details.append(
            "/proc/self/io over the run: \(io.syscr) read syscalls, \(Format.bytes(io.rchar)) through read calls,"
                + " \(Format.bytes(io.readBytes)) from storage (mmap'd segments show as page faults, not syscalls)")
        report.json.set("seconds", run.seconds)
        report.json.set("opsPerSecond", Double(n) / run.seconds)
        report.json.set("readSyscallsPerMiss", Double(io.syscr) / Double(n))
        report.json.set("readCharsPerMiss", Double(io.rchar) / Double(n))
        report.json.set("storageBytesPerMiss", Double(io.readBytes) / Double(n))
        return report
    }
}
