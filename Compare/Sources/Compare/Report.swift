import Foundation

/// The tables of a comparison: per row and engine the median over runs with min and max, and
/// swift-pogreb's ratio to each other engine taken within each run (median, min, max).
struct Report {
    let machine: Machine
    let n: Int
    let runs: Int
    let engines: [String]
    let results: [String: [Int: [Measurement]]]
    let failures: [String]
    let command: String
    let seconds: Double

    static let rows = [
        "W1", "W2", "W2 2 threads", "W2 warm", "W2 withValue", "W2 get(many:)", "W3", "W6 load", "W6 open clean",
        "W6 open crash", "W6 open crash tail", "W7", "W7 4 threads", "W9 load", "W9 get", "YA1", "YA", "YB", "YC", "YF",
    ]
    /// The rows that time one open (W6): shown in milliseconds; a ratio is their time over ours.
    static func isOpen(_ row: String) -> Bool { row.hasPrefix("W6 open") }
    static let rowTitles = [
        "W1": "W1 load (put, sync, close)", "W2": "W2 get, 1 thread", "W2 2 threads": "W2 get, 2 threads",
        "W2 warm": "W2 get, 1 thread, warm", "W2 withValue": "W2 lent (withValue)",
        "W2 get(many:)": "W2 batched (get(many:))", "W3": "W3 get, absent keys",
        "W6 load": "W6 load, sync, SIGKILL", "W6 open clean": "W6 open, clean",
        "W6 open crash": "W6 open after kill", "W6 open crash tail": "W6 open, kill after tail",
        "W7": "W7 durable puts, 1 thread", "W7 4 threads": "W7 durable puts, 4 threads",
        "W9 load": "W9 load, var. keys/values", "W9 get": "W9 get, 1 thread",
        "YA1": "YCSB-A 50/50, 1 thread", "YA": "YCSB-A 50/50, 2 threads", "YB": "YCSB-B 95/5, 2 threads",
        "YC": "YCSB-C reads, 2 threads", "YF": "YCSB-F RMW, 2 threads",
    ]
    static let us = PogrebEngine.name

    /// The measurements of `engine` for `row`, by run.
    func series(_ engine: String, _ row: String) -> [Int: Measurement] {
        var out: [Int: Measurement] = [:]
        for (run, measurements) in results[engine] ?? [:] {
            if let m = measurements.first(where: { $0.row == row }) { out[run] = m }
        }
        return out
    }

    struct Summary: Codable {
        var median: Double
        var min: Double
        var max: Double
    }

    static func summarize(_ values: [Double]) -> Summary? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let mid = sorted.count / 2
        let median = sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
        return Summary(median: median, min: sorted.first!, max: sorted.last!)
    }

    enum Cell {
        case missing
        case invalid(String)
        case value(Summary)
    }

    /// Ops/s of `engine` on `row` (milliseconds for an open row): invalid when any run gave a wrong answer.
    func rate(_ engine: String, _ row: String) -> Cell {
        let runs = series(engine, row)
        if runs.isEmpty { return .missing }
        if let bad = runs.values.first(where: { !$0.valid }) {
            return .invalid("\(bad.wrong) wrong: \(bad.firstProblem ?? "")")
        }
        let values = runs.values.map { Report.isOpen(row) ? $0.seconds * 1000 : $0.opsPerSecond }
        return Report.summarize(values).map { .value($0) } ?? .missing
    }

    /// Our ops/s over `engine`'s, run by run; `against` picks the other engine's row (the limit
    /// table's batch is the peer of our batched row).
    func ratio(_ engine: String, _ row: String) -> Summary? {
        let ours = series(Report.us, row)
        let theirs = series(engine, row)
        var ratios: [Double] = []
        for (run, m) in ours {
            guard let t = theirs[run], m.valid, t.valid else { return nil }
            ratios.append(m.opsPerSecond / t.opsPerSecond)
        }
        return Report.summarize(ratios)
    }

    func text() -> String {
        var lines: [String] = []
        lines.append("")
        lines.append("compare: N = \(n), \(runs) runs, engines alternating run by run; release build")
        lines.append("machine: \(machine.description)")
        lines.append("command: \(command)")
        lines.append("figures: median ops/s over the runs [min–max]; every value verified (INVALID: a wrong answer)")
        lines.append("")
        let first = 28
        let width = 29
        lines.append(pad("workload", first) + engines.map { pad($0, width) }.joined())
        lines.append(String(repeating: "-", count: first + width * engines.count))
        for row in Report.rows {
            guard engines.contains(where: { !series($0, row).isEmpty }) else { continue }
            var line = pad(Report.rowTitles[row] ?? row, first)
            for engine in engines {
                switch rate(engine, row) {
                case .missing: line += pad("—", width)
                case .invalid: line += pad("INVALID", width)
                case .value(let s):
                    line += pad(Report.isOpen(row) ? formatMilliseconds(s) : formatRange(s), width)
                }
            }
            lines.append(line)
            if row == "W6 open crash tail" {
                var survived = pad("  tail puts found", first)
                for engine in engines {
                    let runs = series(engine, row).values
                    let found = runs.compactMap(\.recovered)
                    let cell = found.min().map { low in
                        let high = found.max() ?? low
                        return (low == high ? "\(low)" : "\(low)–\(high)") + " of \(runs.first?.tail ?? 0)"
                    }
                    survived += pad(cell ?? "—", width)
                }
                lines.append(survived)
            }
            if row == "W1" || row == "W9 load" {
                var space = pad("  space on disk / raw", first)
                var memory = pad("  peak RSS of the load", first)
                for engine in engines {
                    let runs = series(engine, row).values
                    let ratios = runs.compactMap { m in
                        m.bytesOnDisk.flatMap { b in m.rawBytes.map { Double(b) / Double($0) } }
                    }
                    let label = (engineType(named: engine)?.onDisk ?? true) ? "" : " (memory)"
                    space += pad(Report.summarize(ratios).map { fixed($0.median, 2) + " ×" + label } ?? "—", width)
                    let peaks = runs.compactMap(\.peakResidentBytes).map(Double.init)
                    memory += pad(Report.summarize(peaks).map { formatBytes(Int64($0.median)) } ?? "—", width)
                }
                lines.append(space)
                lines.append(memory)
            }
            if row.hasPrefix("Y") {
                var detail = pad("  p99; space / live data", first)
                for engine in engines {
                    let runs = Array(series(engine, row).values)
                    let p99 = Report.summarize(runs.compactMap(\.p99Nanoseconds)).map {
                        fixed($0.median / 1000, 1) + " µs"
                    }
                    let space = Report.summarize(
                        runs.compactMap { m in m.bytesOnDisk.flatMap { b in m.rawBytes.map { Double(b) / Double($0) } }
                        })
                    detail += pad(
                        p99.map { "\($0) / \(space.map { fixed($0.median, 2) + " ×" } ?? "—")" } ?? "—", width)
                }
                lines.append(detail)
            }
            if row == "W2" || row == "W9 get" {
                var latency = pad("  p50 / p99 / p99.9", first)
                for engine in engines {
                    let runs = Array(series(engine, row).values)
                    let p = { (key: KeyPath<Measurement, Double?>) in
                        Report.summarize(runs.compactMap { $0[keyPath: key] }).map { fixed($0.median / 1000, 2) }
                            ?? "—"
                    }
                    latency += pad(
                        "\(p(\.p50Nanoseconds))/\(p(\.p99Nanoseconds))/\(p(\.p999Nanoseconds)) µs", width)
                }
                lines.append(latency)
            }
        }
        let peers = engines.filter { $0 != Report.us }
        if engines.contains(Report.us) && !peers.isEmpty {
            lines.append("")
            let opens = Report.rows.contains { Report.isOpen($0) && !series(Report.us, $0).isEmpty }
            lines.append(
                "swift-pogreb's ops/s over each engine's\(opens ? " (W6 opens: their time over ours)" : ""),"
                    + " taken within each run: median [min–max]")
            lines.append("")
            lines.append(pad("workload", first) + peers.map { pad("pogreb / " + $0, width) }.joined())
            lines.append(String(repeating: "-", count: first + width * peers.count))
            for row in Report.rows where !series(Report.us, row).isEmpty {
                var line = pad(Report.rowTitles[row] ?? row, first)
                for engine in peers {
                    line += pad(
                        ratio(engine, row).map { r in
                            // Three decimals below 0.1, so that a small ratio (a W6 open) keeps a figure.
                            let d = r.median < 0.1 ? 3 : 2
                            return "\(fixed(r.median, d)) × [\(fixed(r.min, d))–\(fixed(r.max, d))]"
                        }
                            ?? "—", width)
                }
                lines.append(line)
            }
            var own: [String] = []
            for (title, over, under) in [
                ("W2 2 threads / 1 thread", "W2 2 threads", "W2"), ("W2 lent / get", "W2 withValue", "W2"),
                ("W2 batched / get", "W2 get(many:)", "W2"), ("W7 4 threads / 1 thread", "W7 4 threads", "W7"),
                ("YA 2 threads / 1 thread", "YA", "YA1"),
            ] {
                var line = pad(title, first)
                var any = false
                for engine in engines {
                    let top = series(engine, over)
                    let bottom = series(engine, under)
                    let ratios = top.compactMap { run, m in bottom[run].map { m.opsPerSecond / $0.opsPerSecond } }
                    let cell = Report.summarize(ratios).map { "\(engine) \(fixed($0.median, 2)) ×" }
                    any = any || cell != nil
                    line += pad(cell ?? "—", width)
                }
                if any { own.append(line) }
            }
            if !own.isEmpty {
                lines.append("")
                lines.append("each engine's own ratios, taken within each run: median")
                lines += own
            }
        }
        let invalid = engines.flatMap { engine in
            Report.rows.compactMap { row -> String? in
                if case .invalid(let why) = rate(engine, row) { return "INVALID \(engine) \(row): \(why)" }
                return nil
            }
        }
        if !invalid.isEmpty || !failures.isEmpty {
            lines.append("")
            lines += invalid
            lines += failures.map { "FAILED " + $0 }
        }
        lines.append("")
        lines.append("\(fixed(seconds, 1)) s in all")
        return lines.map { String($0.reversed().drop { $0 == " " }.reversed()) }.joined(separator: "\n")
    }

    struct JSONRow: Codable {
        var engine: String
        var row: String
        var opsPerSecond: Summary?
        /// W6's open rows: the open's milliseconds (and no ops/s).
        var openMilliseconds: Summary?
        var valid: Bool
        var oursOverThis: Summary?
    }

    struct JSONReport: Codable {
        var machine: Machine
        var n: Int
        var runs: Int
        var command: String
        var engines: [String]
        var rows: [JSONRow]
        var measurements: [String: [String: [Measurement]]]
        var failures: [String]
    }

    func json() -> JSONReport {
        var rows: [JSONRow] = []
        for row in Report.rows {
            for engine in engines where !series(engine, row).isEmpty {
                let cell = rate(engine, row)
                var entry = JSONRow(engine: engine, row: row, valid: true)
                switch cell {
                case .value(let s):
                    if Report.isOpen(row) { entry.openMilliseconds = s } else { entry.opsPerSecond = s }
                case .invalid: entry.valid = false
                case .missing: break
                }
                if engine != Report.us { entry.oursOverThis = ratio(engine, row) }
                rows.append(entry)
            }
        }
        var measurements: [String: [String: [Measurement]]] = [:]
        for (engine, byRun) in results {
            measurements[engine] = Dictionary(uniqueKeysWithValues: byRun.map { (String($0.key + 1), $0.value) })
        }
        return JSONReport(
            machine: machine, n: n, runs: runs, command: command, engines: engines, rows: rows,
            measurements: measurements, failures: failures)
    }
}

/// "12.3 ms [11.0–14.2]": the median of milliseconds with min and max.
func formatMilliseconds(_ s: Report.Summary) -> String {
    let digits = s.median >= 100 ? 0 : s.median >= 10 ? 1 : 2
    return "\(fixed(s.median, digits)) ms [\(fixed(s.min, digits))–\(fixed(s.max, digits))]"
}

/// "1.39 M/s [1.30–1.45]": the median with its unit, min and max in the same unit.
func formatRange(_ s: Report.Summary) -> String {
    let (scale, unit) = s.median >= 1e6 ? (1e6, "M/s") : s.median >= 1e3 ? (1e3, "k/s") : (1.0, "/s")
    let digits = s.median / scale >= 100 ? 0 : s.median / scale >= 10 ? 1 : 2
    return
        "\(fixed(s.median / scale, digits)) \(unit) [\(fixed(s.min / scale, digits))–\(fixed(s.max / scale, digits))]"
}
