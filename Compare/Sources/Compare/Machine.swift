import Glibc

/// What the figures were measured on, printed above the tables and stored in the JSON.
struct Machine: Codable {
    var cpu: String
    var cores: Int
    var memoryBytes: Int64
    var kernel: String
    var loadAverageAtStart: Double

    static func current() -> Machine {
        let cpuinfo = readText("/proc/cpuinfo")
        let model =
            cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
            .flatMap { $0.split(separator: ":", maxSplits: 1).last }
            .map { String($0.drop { $0 == " " }) } ?? "unknown"
        let meminfo = readText("/proc/meminfo")
        let total =
            meminfo.split(separator: "\n").first { $0.hasPrefix("MemTotal:") }
            .flatMap { line in line.split(separator: " ").dropFirst().first.flatMap { Int64($0) } } ?? 0
        var name = utsname()
        uname(&name)
        let release = withUnsafeBytes(of: name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        var loads = [Double](repeating: 0, count: 3)
        getloadavg(&loads, 3)
        return Machine(
            cpu: model, cores: Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), memoryBytes: total * 1024,
            kernel: "Linux " + release, loadAverageAtStart: loads[0])
    }

    var description: String {
        "\(cpu), \(cores) cores, \(formatBytes(memoryBytes)) RAM, \(kernel), load average \(fixed(loadAverageAtStart, 2)) at start"
    }
}

func readText(_ path: String) -> String {
    guard let file = fopen(path, "r") else { return "" }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = fread(&chunk, 1, chunk.count, file)
        if n <= 0 { break }
        bytes += chunk[0..<n]
    }
    return String(decoding: bytes, as: UTF8.self)
}

func fixed(_ value: Double, _ digits: Int) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let rounded = (value * scale).rounded() / scale
    var text = String(rounded)
    if let dot = text.firstIndex(of: ".") {
        let decimals = text.distance(from: dot, to: text.endIndex) - 1
        if decimals < digits { text += String(repeating: "0", count: digits - decimals) }
        if digits == 0 { text = String(text[..<dot]) }
    } else if digits > 0 {
        text += "." + String(repeating: "0", count: digits)
    }
    return text
}

func formatBytes(_ bytes: Int64) -> String {
    let value = Double(bytes)
    if value >= Double(1 << 30) { return fixed(value / Double(1 << 30), 2) + " GiB" }
    if value >= Double(1 << 20) { return fixed(value / Double(1 << 20), 1) + " MiB" }
    if value >= 1024 { return fixed(value / 1024, 1) + " KiB" }
    return "\(bytes) B"
}

func formatRate(_ opsPerSecond: Double) -> String {
    if opsPerSecond >= 1e6 { return fixed(opsPerSecond / 1e6, 2) + " M/s" }
    if opsPerSecond >= 1e3 { return fixed(opsPerSecond / 1e3, 1) + " k/s" }
    return fixed(opsPerSecond, 0) + " /s"
}

func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
    let count = text.unicodeScalars.count
    guard count < width else { return text }
    let fill = String(repeating: " ", count: width - count)
    return right ? fill + text : text + fill
}
