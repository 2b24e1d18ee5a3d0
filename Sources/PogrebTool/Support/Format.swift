import Glibc

/// Number, size and time formatting for tables and progress lines.
enum Format {
    /// `1234567` → `1 234 567`.
    static func grouped(_ value: some BinaryInteger) -> String {
        let digits = String(value.magnitude)
        var result = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { result.append(" ") }
            result.append(c)
        }
        return value < 0 ? "-" + result : result
    }

    /// A byte count with a binary unit: `512 B`, `1.5 KiB`, `156.3 MiB`.
    static func bytes(_ value: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var v = Double(value)
        var unit = 0
        while abs(v) >= 1024 && unit < units.count - 1 {
            v /= 1024
            unit += 1
        }
        return unit == 0 ? "\(value) B" : fixed(v, v < 10 ? 2 : 1) + " " + units[unit]
    }

    /// A rate or count with a decimal suffix: `950`, `12.3 k`, `1.18 M`.
    static func si(_ value: Double) -> String {
        switch abs(value) {
        case 1e9...: return fixed(value / 1e9, 2) + " G"
        case 1e6...: return fixed(value / 1e6, 2) + " M"
        case 1e3...: return fixed(value / 1e3, value < 1e4 ? 2 : 1) + " k"
        default: return fixed(value, value < 10 ? 2 : 0)
        }
    }

    /// `value` with `digits` digits after the point.
    static func fixed(_ value: Double, _ digits: Int) -> String {
        guard value.isFinite else { return value.isNaN ? "n/a" : (value > 0 ? "inf" : "-inf") }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let rounded = (abs(value) * scale).rounded()
        let negative = value < 0 && rounded != 0
        let whole = UInt64(rounded / scale)
        let fraction = UInt64(rounded - Double(whole) * scale)
        var text = String(whole)
        if digits > 0 {
            let f = String(fraction)
            text += "." + String(repeating: "0", count: max(0, digits - f.count)) + f
        }
        return negative ? "-" + text : text
    }

    /// Seconds as `0:42`, `12:03` or `2:04:10`.
    static func clock(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "--:--" }
        let s = Int(seconds.rounded())
        let h = s / 3600
        let m = (s % 3600) / 60
        let r = s % 60
        let two = { (x: Int) in x < 10 ? "0\(x)" : "\(x)" }
        return h > 0 ? "\(h):\(two(m)):\(two(r))" : "\(m):\(two(r))"
    }

    /// A duration for tables: `850 µs`, `12.3 ms`, `4.21 s`.
    static func duration(_ seconds: Double) -> String {
        if seconds < 1e-3 { return fixed(seconds * 1e6, 0) + " µs" }
        if seconds < 1 { return fixed(seconds * 1e3, seconds < 0.01 ? 2 : 1) + " ms" }
        return fixed(seconds, 2) + " s"
    }

    /// Nanoseconds for latency columns: `310 ns`, `1.2 µs`.
    static func nanoseconds(_ value: UInt64) -> String {
        if value < 1_000 { return "\(value) ns" }
        if value < 1_000_000 { return fixed(Double(value) / 1e3, value < 10_000 ? 2 : 1) + " µs" }
        return fixed(Double(value) / 1e6, 1) + " ms"
    }

    /// Pads `text` to `width` columns (counting Unicode scalars), on the right or the left.
    static func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
        let count = text.unicodeScalars.count
        guard count < width else { return text }
        let fill = String(repeating: " ", count: width - count)
        return right ? fill + text : text + fill
    }

    /// Lays out rows as aligned columns; `numeric` columns are right-aligned.
    static func table(_ header: [String], _ rows: [[String]], numeric: Set<Int> = []) -> String {
        var widths = header.map { $0.unicodeScalars.count }
        for row in rows {
            for (i, cell) in row.enumerated() where i < widths.count {
                widths[i] = max(widths[i], cell.unicodeScalars.count)
            }
        }
        func line(_ cells: [String]) -> String {
            var parts: [String] = []
            for (i, cell) in cells.enumerated() {
                parts.append(pad(cell, widths[i], right: numeric.contains(i)))
            }
            var text = parts.joined(separator: "  ")
            while text.hasSuffix(" ") { text.removeLast() }
            return text
        }
        var lines = [line(header), line(widths.map { String(repeating: "-", count: $0) })]
        lines += rows.map(line)
        return lines.joined(separator: "\n") + "\n"
    }
}

/// A monotonic clock reading in seconds.
func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// A monotonic clock reading in nanoseconds.
@inline(__always)
func nowNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

/// A JSON object written by hand, members in insertion order (so output is stable).
struct JSONObject {
    private var members: [(String, String)] = []

    mutating func set(_ name: String, _ value: String) { members.append((name, Codec.jsonString(value))) }
    mutating func set(_ name: String, _ value: Int) { members.append((name, String(value))) }
    mutating func set(_ name: String, _ value: Int64) { members.append((name, String(value))) }
    mutating func set(_ name: String, _ value: UInt64) { members.append((name, String(value))) }
    mutating func set(_ name: String, _ value: Bool) { members.append((name, value ? "true" : "false")) }
    mutating func set(_ name: String, _ value: Double) {
        members.append((name, value.isFinite ? jsonNumber(value) : "null"))
    }
    mutating func set(_ name: String, _ value: JSONObject) { members.append((name, value.text)) }
    mutating func set(_ name: String, _ values: [JSONObject]) {
        members.append((name, "[" + values.map(\.text).joined(separator: ",") + "]"))
    }
    mutating func set(_ name: String, strings: [String]) {
        members.append((name, "[" + strings.map(Codec.jsonString).joined(separator: ",") + "]"))
    }
    mutating func setNull(_ name: String) { members.append((name, "null")) }

    var text: String { "{" + members.map { Codec.jsonString($0.0) + ":" + $0.1 }.joined(separator: ",") + "}" }

    private func jsonNumber(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return Format.fixed(value, 6).replacingTrailingZeros()
    }
}

extension String {
    fileprivate func replacingTrailingZeros() -> String {
        guard contains(".") else { return self }
        var text = self
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }
}

/// Seconds since the epoch as local `YYYY-MM-DD HH:MM:SS`.
func formatTime(_ seconds: Int64) -> String {
    var t = time_t(seconds)
    var parts = tm()
    localtime_r(&t, &parts)
    var buffer = [CChar](repeating: 0, count: 32)
    let n = strftime(&buffer, buffer.count, "%Y-%m-%d %H:%M:%S", &parts)
    return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
