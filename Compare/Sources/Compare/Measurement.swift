import Glibc

/// One figure a child process measured, as it travels to the parent in a JSON line.
struct Measurement: Codable, Sendable {
    /// The row: "W1", "W2", "W2 2 threads", "W2 warm", "W2 withValue", "W2 get(many:)", "W3", "W6 …",
    /// "W7", "W9 load", "W9 get", the YCSB mixes (``Report/rows``). A W6 open row times one open:
    /// `ops` 1, `seconds` the open.
    var row: String
    var threads: Int
    var ops: Int
    var seconds: Double
    var p50Nanoseconds: Double?
    var p99Nanoseconds: Double?
    var p999Nanoseconds: Double?
    /// Bytes on disk (allocated blocks of every file) after the load, and the raw data (144 × N).
    var bytesOnDisk: Int64?
    var rawBytes: Int64?
    /// Peak resident set of the child process so far.
    var peakResidentBytes: Int64?
    /// Lookups that returned a wrong value, no value for a present key, or a value for an absent one.
    var wrong: Int = 0
    var firstProblem: String?
    /// W6: the puts of the tail written after the last sync, and how many of them an open found.
    var tail: Int?
    var recovered: Int?

    var opsPerSecond: Double { Double(ops) / seconds }
    var valid: Bool { wrong == 0 }

    /// Counts one wrong answer, keeping the first one's description.
    mutating func note(wrong problem: String) {
        wrong += 1
        if firstProblem == nil { firstProblem = problem }
    }
}

/// What a child prints: one JSON line.
struct ChildReport: Codable, Sendable {
    var engine: String
    var workload: String
    var n: Int
    var measurements: [Measurement] = []
    var error: String?
}

/// Monotonic nanoseconds.
@inline(__always)
func nowNanoseconds() -> UInt64 {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return UInt64(t.tv_sec) &* 1_000_000_000 &+ UInt64(t.tv_nsec)
}

/// The peak resident set of this process, in bytes.
func peakResidentBytes() -> Int64 {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Int64(usage.ru_maxrss) * 1024
}

/// Allocated bytes (st_blocks × 512) of every file under `path`.
func bytesOnDisk(_ path: String) -> Int64 {
    var info = stat()
    guard lstat(path, &info) == 0 else { return 0 }
    if (info.st_mode & S_IFMT) != S_IFDIR { return Int64(info.st_blocks) * 512 }
    guard let dir = opendir(path) else { return 0 }
    defer { closedir(dir) }
    var total: Int64 = 0
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        if name == "." || name == ".." { continue }
        total += bytesOnDisk(path + "/" + name)
    }
    return total
}

/// Removes `path` and everything under it (the harness's own directories only).
func removeTree(_ path: String) {
    var info = stat()
    guard lstat(path, &info) == 0 else { return }
    if (info.st_mode & S_IFMT) == S_IFDIR {
        if let dir = opendir(path) {
            var names: [String] = []
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                }
                if name != "." && name != ".." { names.append(name) }
            }
            closedir(dir)
            for name in names { removeTree(path + "/" + name) }
        }
        rmdir(path)
    } else {
        unlink(path)
    }
}
