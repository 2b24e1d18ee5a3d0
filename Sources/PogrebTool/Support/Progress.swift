/// A progress line on standard error for long work: a bar when the total is known, a counter
/// otherwise, with the rate and the time left. Shown only when standard error is a terminal (so
/// nothing extra reaches a pipe or a log file), and redrawn at most ten times a second.
///
/// ```
/// import  [##########----------]  51%  5.10 M/10.0 M records  612 k/s  ETA 0:08
/// ```
final class Progress {
    enum Unit: Equatable {
        case items(String)
        case bytes
    }

    let label: String
    let total: Int64?
    let unit: Unit
    let enabled: Bool
    private let started = now()
    private var lastDraw = 0.0
    private var drawn = false

    init(_ label: String, total: Int64?, unit: Unit = .items("records"), enabled: Bool? = nil) {
        self.label = label
        self.total = total
        self.unit = unit
        self.enabled = enabled ?? Console.current.stderrIsTerminal
    }

    /// Reports `done` units; cheap when nothing is drawn.
    func update(_ done: Int64) {
        guard enabled else { return }
        let t = now()
        guard t - lastDraw >= 0.1 else { return }
        lastDraw = t
        draw(done, at: t)
    }

    /// Clears the line (the caller prints its own summary).
    func finish() {
        guard enabled, drawn else { return }
        Console.current.err.write("\r\u{1B}[2K")
        Console.current.err.flushQuietly()
        drawn = false
    }

    private func amount(_ value: Int64) -> String {
        switch unit {
        case .items: return Format.si(Double(value)).replacing(" ", with: "")
        case .bytes: return Format.bytes(value)
        }
    }

    private func draw(_ done: Int64, at t: Double) {
        let elapsed = max(t - started, 1e-9)
        let rate = Double(done) / elapsed
        var line = Format.pad(label, 8) + " "
        let rateText: String
        switch unit {
        case .items: rateText = Format.si(rate).replacing(" ", with: "") + "/s"
        case .bytes: rateText = Format.bytes(Int64(rate)) + "/s"
        }
        let unitName: String
        switch unit {
        case .items(let name): unitName = " " + name
        case .bytes: unitName = ""
        }
        if let total, total > 0 {
            let fraction = min(1, Double(done) / Double(total))
            let width = 24
            let filled = Int(fraction * Double(width))
            line += "[" + String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled) + "] "
            line += Format.pad(String(Int(fraction * 100)) + "%", 4, right: true) + "  "
            line += amount(done) + "/" + amount(total) + unitName + "  " + rateText
            let left = rate > 0 ? Double(total - done) / rate : .infinity
            line += "  ETA " + Format.clock(left)
        } else {
            line += amount(done) + unitName + "  " + rateText + "  " + Format.clock(elapsed)
        }
        Console.current.err.write("\r\u{1B}[2K" + line)
        Console.current.err.flushQuietly()
        drawn = true
    }
}
