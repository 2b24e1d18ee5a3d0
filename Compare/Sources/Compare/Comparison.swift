import Foundation

/// The parent: for each run, for each engine in turn (A B C … A B C …), a child loads a fresh
/// database (W1) and, when read workloads are chosen, a second child opens and reads it; the
/// database is removed before the next engine runs. Then, each on a database of its own, W6's
/// children (``recover(_:dir:run:)``), W9's load and lookups (two children), W7 and the YCSB mixes.
final class Comparison {
    let arguments: Arguments
    var results: [String: [Int: [Measurement]]] = [:]  // engine → run → measurements
    var failures: [String] = []

    init(_ arguments: Arguments) { self.arguments = arguments }

    func run() throws(CompareError) {
        let machine = Machine.current()
        let ownsRoot = arguments.dir == nil
        let root: String
        if let dir = arguments.dir {
            root = dir
            mkdir(root, 0o755)
        } else {
            var template = Array("/tmp/pogreb-compare-XXXXXX".utf8CString)
            guard let made = mkdtemp(&template) else { throw CompareError("mkdtemp failed: errno \(errno)") }
            root = String(cString: made)
        }
        defer { if ownsRoot { removeTree(root) } }
        let reads = arguments.workloads.filter { readWorkloads.contains($0) }
        log(
            "compare: N = \(arguments.n), \(arguments.runs) runs, engines \(arguments.engines.joined(separator: " ")),"
                + " workloads \(arguments.workloads.joined(separator: " ")), directory \(root)")
        log("machine: \(machine.description)")
        let started = Date()
        for run in 0..<arguments.runs {
            for engine in arguments.engines {
                let dir = "\(root)/\(engine)-\(run)"
                try refuseExisting(dir)
                defer { removeTree(dir) }
                var measurements: [Measurement] = []
                if arguments.workloads.contains("W1") || !reads.isEmpty,
                    let loaded = child(engine, "W1", dir: dir, run: run)
                {
                    if arguments.workloads.contains("W1") { measurements += loaded }
                    if !reads.isEmpty, let read = child(engine, reads.joined(separator: ","), dir: dir, run: run) {
                        measurements += read
                    }
                }
                removeTree(dir)
                if arguments.workloads.contains("W6"), engineType(named: engine)?.onDisk == true {
                    let recovery = "\(root)/\(engine)-\(run)-w6"
                    try refuseExisting(recovery)
                    defer { removeTree(recovery) }
                    measurements += recover(engine, dir: recovery, run: run)
                }
                if arguments.workloads.contains("W9") {
                    let variable = "\(root)/\(engine)-\(run)-w9"
                    try refuseExisting(variable)
                    defer { removeTree(variable) }
                    if let loaded = child(engine, "W9load", dir: variable, run: run) {
                        measurements += loaded
                        if let read = child(engine, "W9get", dir: variable, run: run) { measurements += read }
                    }
                }
                if arguments.workloads.contains("W7"), engineType(named: engine)?.onDisk == true {
                    let durable = "\(root)/\(engine)-\(run)-w7"
                    try refuseExisting(durable)
                    defer { removeTree(durable) }
                    if let result = child(engine, "W7", dir: durable, run: run) { measurements += result }
                }
                let mixes = arguments.workloads.filter { ycsbWorkloads.contains($0) }
                if !mixes.isEmpty, engineType(named: engine)?.concurrentWrites == true {
                    let ycsb = "\(root)/\(engine)-\(run)-ycsb"
                    try refuseExisting(ycsb)
                    defer { removeTree(ycsb) }
                    if child(engine, "Yload", dir: ycsb, run: run) != nil {
                        for mix in mixes {
                            guard let result = child(engine, mix, dir: ycsb, run: run) else { break }
                            measurements += result
                        }
                    }
                }
                results[engine, default: [:]][run] = measurements
            }
        }
        let report = Report(
            machine: machine, n: arguments.n, runs: arguments.runs, engines: arguments.engines,
            results: results, failures: failures,
            command: CommandLine.arguments.map { $0.contains(" ") ? "'\($0)'" : $0 }.joined(separator: " "),
            seconds: Date().timeIntervalSince(started))
        print(report.text())
        if let path = arguments.json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            do {
                try encoder.encode(report.json()).write(to: URL(fileURLWithPath: path))
            } catch { throw CompareError("writing \(path): \(error)") }
        }
    }

    /// W6's four children on one database (``recoverySteps``): the load and the open after its crash
    /// are killed with SIGKILL once they print their report; then the open after the crash with a
    /// tail, and the clean open. Returns what they measured (nothing after a failed step). The clean
    /// open must find the same tail keys as the open after the crash did (else it counts one wrong).
    func recover(_ engine: String, dir: String, run: Int) -> [Measurement] {
        var measurements: [Measurement] = []
        for step in recoverySteps {
            guard let result = child(engine, step, dir: dir, run: run, kill: step == "W6load" || step == "W6crash")
            else { break }
            measurements += result
        }
        if let tail = measurements.firstIndex(where: { $0.row == "W6 open crash tail" }),
            let clean = measurements.firstIndex(where: { $0.row == "W6 open clean" }),
            measurements[tail].recovered != measurements[clean].recovered
        {
            measurements[clean].note(
                wrong: "the clean open found \(measurements[clean].recovered ?? 0) tail keys,"
                    + " the open after the crash \(measurements[tail].recovered ?? 0)")
        }
        return measurements
    }

    /// Runs one child and returns its measurements, or nil (recorded in `failures`) when it failed.
    /// With `kill`, the child is killed with SIGKILL once it has printed its report (W6), and must
    /// not have ended by itself.
    func child(_ engine: String, _ workload: String, dir: String, run: Int, kill: Bool = false) -> [Measurement]? {
        let t0 = Date()
        let what = "run \(run + 1)/\(arguments.runs) \(engine) \(workload)"
        do {
            let arguments = [
                "child", "--engine", engine, "--workload", workload, "--n", String(self.arguments.n), "--dir", dir,
            ]
            let line: Substring?
            let ending: String
            var killed = false
            if kill {
                let result = try runSelfUntilLineThenKill(arguments)
                line = result.line.isEmpty ? nil : Substring(result.line)
                killed = result.killed
                ending = killed ? "was killed" : "ended before it was killed"
            } else {
                let (output, status) = try runSelf(arguments)
                line = output.split(separator: "\n").last
                ending = "exited with status \(status)"
            }
            guard let line, let report = try? JSONDecoder().decode(ChildReport.self, from: Data(line.utf8))
            else { throw CompareError("the child \(ending) and printed no report") }
            if let error = report.error { throw CompareError(error) }
            if kill && !killed { throw CompareError("the child \(ending)") }
            let summary = report.measurements.map { m in
                let figure = Report.isOpen(m.row) ? fixed(m.seconds * 1000, 2) + " ms" : formatRate(m.opsPerSecond)
                return "\(m.row) \(m.valid ? figure : "INVALID (\(m.wrong) wrong: \(m.firstProblem ?? ""))")"
            }
            log("\(what): \(summary.joined(separator: ", ")) (\(fixed(Date().timeIntervalSince(t0), 1)) s)")
            return report.measurements
        } catch {
            failures.append("\(what): \(error)")
            log("\(what): FAILED: \(error)")
            return nil
        }
    }
}

/// Throws when `path` exists: the harness removes only the databases it made.
func refuseExisting(_ path: String) throws(CompareError) {
    var info = stat()
    if lstat(path, &info) == 0 { throw CompareError("\(path) exists already; give --dir an empty directory") }
}

func log(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
