import Foundation

/// The parent: for each run, for each engine in turn (A B C … A B C …), a child loads a fresh
/// database (W1) and, when read workloads are chosen, a second child opens and reads it; the
/// database is removed before the next engine runs.
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

    /// Runs one child and returns its measurements, or nil (recorded in `failures`) when it failed.
    func child(_ engine: String, _ workload: String, dir: String, run: Int) -> [Measurement]? {
        let t0 = Date()
        let what = "run \(run + 1)/\(arguments.runs) \(engine) \(workload)"
        do {
            let (output, status) = try runSelf([
                "child", "--engine", engine, "--workload", workload, "--n", String(arguments.n), "--dir", dir,
            ])
            guard let line = output.split(separator: "\n").last,
                let report = try? JSONDecoder().decode(ChildReport.self, from: Data(line.utf8))
            else { throw CompareError("the child exited with status \(status) and printed no report") }
            if let error = report.error { throw CompareError(error) }
            let summary = report.measurements.map { m in
                "\(m.row) \(m.valid ? formatRate(m.opsPerSecond) : "INVALID (\(m.wrong) wrong)")"
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
