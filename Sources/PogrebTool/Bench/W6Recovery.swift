import Glibc
import Pogreb
import PogrebWorkload
import Synchronization

extension WorkloadRunner {
    // MARK: W6 recovery

    func w6() throws(ToolError) -> WorkloadReport {
        let path = root + "/w6"
        let executable = try pogrebExecutable()
        let tail = max(1, n / 100)
        var extra: [String] = []
        if let segmentSize { extra = ["--segment-size", String(segmentSize)] }

        // 1. A child loads N keys, syncs, and is killed.
        let t0 = now()
        let loader = try ChildProcess(
            executable: executable,
            arguments: ["_bench-child", "load", "--path", path, "--count", String(n)] + extra)
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
        guard ChildProcess.wasKilled(status, by: SIGKILL) else {
            throw ToolError(.io, "W6: the child was not killed by SIGKILL (status \(status))")
        }

        // 2. Open after the crash, nothing written after the last sync.
        var t = now()
        var db = try openDatabase(path)
        let noTailSeconds = now() - t
        let noTailStats = try engine { () throws(PogrebError) -> Statistics in try db.statistics }
        try verifyAll("W6", db, count: n, label: "W6 verify") { _ in 0 }
        try close(db)

        // 3. A child writes N/100 more keys without syncing, and is killed.
        let writer = try ChildProcess(
            executable: executable,
            arguments: ["_bench-child", "tail", "--path", path, "--count", String(n), "--tail", String(tail)] + extra)
        guard writer.readLine(timeout: 600) == "written" else {
            throw ToolError(.io, "W6: the tail-writing child did not finish")
        }
        writer.kill(SIGKILL)
        writer.wait()

        // 4. Open after the crash with a tail.
        t = now()
        db = try openDatabase(path)
        let tailSeconds = now() - t
        let tailStats = try engine { () throws(PogrebError) -> Statistics in try db.statistics }
        try verifyAll("W6", db, count: n, label: "W6 verify") { _ in 0 }
        // The tail keys that survived must be a prefix of the ones written, with right values.
        var key = [UInt8](repeating: 0, count: WorkloadData.keySize)
        var recovered = 0
        var ended = false
        for id in UInt64(n)..<UInt64(n + tail) {
            WorkloadData.fillKey(id, &key)
            let value = try engine("W6") { () throws(PogrebError) -> [UInt8]? in try db.get(key) }
            if let value {
                if ended {
                    throw wrong(
                        "W6",
                        "\(WorkloadRunner.describeKey(id)) survived the crash but an earlier key of the tail did not")
                }
                guard value.withUnsafeBytes({ WorkloadData.matches($0, id, version: 0) }) else {
                    throw wrong("W6", "\(WorkloadRunner.describeKey(id)) of the tail has a wrong value after recovery")
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
        report.rows.append(
            BenchRow(id: "W6", what: "load in a child, sync, SIGKILL", threads: 1, ops: n, seconds: loadSeconds))
        report.rows.append(
            BenchRow(
                id: "W6", what: "open after crash, no tail", seconds: noTailSeconds,
                note: "\(Format.grouped(noTailStats.recordsReplayedAtOpen)) records replayed;"
                    + " \(Format.grouped(n)) keys verified"))
        report.rows.append(
            BenchRow(
                id: "W6", what: "open after crash, \(Format.grouped(tail))-put tail", seconds: tailSeconds,
                note: "\(Format.grouped(tailStats.recordsReplayedAtOpen)) records replayed,"
                    + " \(Format.grouped(recovered)) of \(Format.grouped(tail)) tail keys survived (unsynced),"
                    + " all correct"))
        report.rows.append(BenchRow(id: "W6", what: "open (clean)", seconds: cleanSeconds))
        if !tailStats.tornTails.isEmpty {
            report.details.append("torn tail cut at open: " + tailStats.tornTails.joined(separator: "; "))
        }
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
}
