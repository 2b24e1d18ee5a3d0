import ArgumentParser
import Glibc
import Pogreb

/// `pogreb bench`: the workloads of docs/WORKLOADS.md on this machine.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the benchmark workloads (docs/WORKLOADS.md) and print a table.",
        discussion: """
            Workloads: W1 load, W2 get (1, 2, 1 threads), W3 miss, W5 overwrite + compact, \
            W6 recovery after SIGKILL, W7 durable puts (1 and 4 threads), W8 cold get, \
            W9 pogreb-bench (variable-length keys and values). Default: W1,W2,W3 at N = 1 000 000, \
            which takes well under a minute in a release build: `swift run -c release pogreb bench`.

            Every lookup's value is compared with the expected one; any wrong value or missing key \
            fails the run with exit status 3 (a benchmark with a wrong answer is not a result). \
            The work happens in a temporary directory that is removed afterwards, unless --path \
            names a directory to use (and keep). Build with -c release: a debug build is many \
            times slower and says so in the table.
            """)

    @Option(help: "Comma-separated workloads among W1,W2,W3,W5,W6,W7,W8,W9, or `all`.")
    var workloads: String = "W1,W2,W3"
    @Option(name: [.customShort("n"), .long], help: "N, the number of keys.")
    var count: Int = 1_000_000
    @Option(help: "Work in this directory (created if needed, kept afterwards) instead of a temporary one.")
    var path: String?
    @Flag(help: "Print one JSON object instead of the table.")
    var json = false
    @Option(help: "W7: durable puts per variant.")
    var durableCount: Int = 20_000
    @Option(help: "W8: cold lookups per variant.")
    var coldLookups: Int = 5_000
    @Option(help: "Engine option: segment size in bytes (default: the engine's).")
    var segmentSize: Int?
    @Option(help: "Engine option: mmap or pread reads of sealed segments (default: the engine's).")
    var fileAccess: FileAccessChoice?

    @Flag(help: .hidden) var testDamageOneValue = false

    enum FileAccessChoice: String, ExpressibleByArgument { case mmap, pread }

    static let allWorkloads = ["W1", "W2", "W3", "W5", "W6", "W7", "W8", "W9"]
    /// The order workloads run in: readers of W1's database before W5 changes it.
    static let runOrder = ["W1", "W2", "W3", "W8", "W5", "W9", "W6", "W7"]

    var selected: [String] {
        let names = workloads.uppercased().split(separator: ",").map { String($0.trimmingSpaces) }
        if names == ["ALL"] { return Self.allWorkloads }
        return names
    }

    func validate() throws {
        for name in selected where !Self.allWorkloads.contains(name) {
            if name == "W4" {
                throw ValidationError(
                    "W4 (mixed reads and writes) is not part of `pogreb bench` yet; choose among \(Self.allWorkloads.joined(separator: ","))"
                )
            }
            throw ValidationError(
                "unknown workload \(name); choose among \(Self.allWorkloads.joined(separator: ",")) or all")
        }
        guard !selected.isEmpty else { throw ValidationError("no workload selected") }
        guard count >= 100, count <= Int(UInt32.max) / 2 else {
            throw ValidationError("--count must be between 100 and \(UInt32.max / 2)")
        }
        guard durableCount >= 4 else { throw ValidationError("--durable-count must be at least 4") }
        guard coldLookups >= 1 else { throw ValidationError("--cold-lookups must be at least 1") }
    }

    func run() throws {
        let temporary = path == nil
        let root: String
        if let path {
            if !Files.exists(path) && mkdir(path, 0o755) != 0 {
                throw ToolError(.io, "cannot create \(path): \(describeErrno(errno))")
            }
            guard Files.isDirectory(path) else { throw ToolError(.usage, "\(path) is not a directory") }
            guard try Files.list(path).isEmpty else {
                throw ToolError(
                    .usage, "\(path) is not empty; give a new or empty directory (the bench creates databases in it)")
            }
            root = path
        } else {
            root = try Files.makeTemporaryDirectory(prefix: "pogreb-bench")
        }
        defer { if temporary { Files.removeTree(root) } }
        Interrupt.install()

        var options = Options()
        if let segmentSize { options.segmentSize = segmentSize }
        if let fileAccess { options.fileAccess = fileAccess == .mmap ? .mmap : .pread }
        let runner = WorkloadRunner(
            n: count, root: root, options: options, durableCount: durableCount, coldLookups: coldLookups,
            segmentSize: segmentSize)
        runner.damageOneValue = testDamageOneValue
        let machine = Machine.current()
        let table = BenchTable(enabled: !json)
        table.header(
            machine: machine, n: count, root: root, temporary: temporary, fileSystem: fileSystemType(root),
            options: options)

        var reports: [WorkloadReport] = []
        let chosen = Set(selected)
        let started = now()
        do {
            for id in Self.runOrder where chosen.contains(id) {
                let report = try runner.run(id)
                table.print(report)
                reports.append(report)
            }
        } catch {
            runner.closeAll()
            if error.status == .corrupted {
                Console.current.error("FAILED: \(error.message)")
                Console.current.error("a benchmark with a wrong answer is not a result; the run stops here")
                throw ToolError(.corrupted, "", silent: true)
            }
            throw error
        }
        let seconds = now() - started
        if json {
            var object = JSONObject()
            object.set("tool", "pogreb bench")
            object.set("n", count)
            object.set("machine", machine.json)
            object.set("fileSystem", fileSystemType(root))
            var engineOptions = JSONObject()
            engineOptions.set("fileAccess", options.fileAccess == .mmap ? "mmap" : "pread")
            engineOptions.set("segmentSize", options.segmentSize)
            engineOptions.set("verifyChecksums", options.verifyChecksums)
            object.set("options", engineOptions)
            var workloads = JSONObject()
            for report in reports { workloads.set(report.id, report.json) }
            object.set("workloads", workloads)
            object.set("lookupsVerified", runner.verifiedLookups)
            object.set("wrongAnswers", 0)
            object.set("peakResidentBytes", Memory.peakResident)
            object.set("seconds", seconds)
            Console.current.out.write(object.text + "\n")
        } else {
            table.footer(verified: runner.verifiedLookups, seconds: seconds)
        }
    }
}

/// One line of the bench table.
struct BenchRow {
    var id: String
    var what: String
    var threads: Int?
    var ops: Int?
    var seconds: Double?
    var note: String = ""

    var rate: Double? {
        guard let ops, let seconds, seconds > 0 else { return nil }
        return Double(ops) / seconds
    }
}

/// What a workload reports: table rows, extra lines, and a JSON object.
struct WorkloadReport {
    var id: String
    var rows: [BenchRow] = []
    var details: [String] = []
    var json = JSONObject()
}

/// The table `pogreb bench` prints, one workload at a time as they finish.
final class BenchTable {
    let enabled: Bool
    private let widths = [3, 36, 7, 11, 10, 11]

    init(enabled: Bool) { self.enabled = enabled }

    private func write(_ text: String) {
        guard enabled else { return }
        Console.current.out.write(text)
        Console.current.out.flushQuietly()
    }

    private func line(_ cells: [String], note: String) -> String {
        var text = ""
        for (i, cell) in cells.enumerated() {
            text += Format.pad(cell, widths[i], right: i >= 2) + "  "
        }
        text += note
        while text.hasSuffix(" ") { text.removeLast() }
        return text + "\n"
    }

    func header(machine: Machine, n: Int, root: String, temporary: Bool, fileSystem: String, options: Options) {
        var text = "pogreb bench: N = \(Format.grouped(n)), \(machine.build) build"
        if machine.build != "release" {
            text += " (NOT a release build: figures are not comparable; use swift run -c release pogreb bench)"
        }
        text += "\n"
        text +=
            "machine:   \(machine.cpu), \(machine.cores) core\(machine.cores == 1 ? "" : "s"), \(Format.bytes(machine.memory)) RAM, \(machine.kernel)"
        if let load = machine.loadAverage {
            text += ", load average \(Format.fixed(load, 2)) at start"
            if load > 0.5 {
                text += " (other work competes for the cores: figures, the 2-thread ones above all, are lower)"
            }
        }
        text += "\n"
        text += "directory: \(root) (\(fileSystem)\(temporary ? ", removed afterwards" : ""))\n"
        let segment =
            options.segmentSize >= 1 << 30
            ? "\(options.segmentSize >> 30) GiB" : Format.bytes(Int64(options.segmentSize))
        text +=
            "engine:    default options except as given: \(options.fileAccess == .mmap ? "mmap" : "pread") reads, \(segment) segments, checksums \(options.verifyChecksums ? "verified" : "not verified") on get\n\n"
        text += line(["id", "what", "threads", "ops", "time", "rate"], note: "notes")
        text += line(widths.map { String(repeating: "-", count: $0) }, note: "-----")
        write(text)
    }

    func print(_ report: WorkloadReport) {
        var text = ""
        for row in report.rows {
            text += line(
                [
                    row.id, row.what, row.threads.map(String.init) ?? "",
                    row.ops.map(Format.grouped) ?? "",
                    row.seconds.map(Format.duration) ?? "",
                    row.rate.map { Format.si($0) + "/s" } ?? "",
                ], note: row.note)
        }
        for detail in report.details {
            text += String(repeating: " ", count: widths[0] + 2) + detail + "\n"
        }
        write(text)
    }

    func footer(verified: Int, seconds: Double) {
        write(
            "\nall values verified: \(Format.grouped(verified)) lookups, 0 wrong, 0 missing; peak RSS "
                + "\(Format.bytes(Memory.peakResident)); \(Format.duration(seconds)) in all\n"
        )
    }
}
