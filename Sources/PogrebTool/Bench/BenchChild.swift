import ArgumentParser
import Glibc
import Pogreb
import PogrebWorkload

/// `pogreb _bench-child`: the process that W6 (recovery) kills with SIGKILL.
///
/// - `load`: creates the database at `--path`, puts keys 0..<count in load order (version 0),
///   calls `sync()`, writes `synced` to standard output and waits to be killed.
/// - `tail`: opens the database, puts keys count..<count+tail in id order (version 0) without
///   a sync, writes `written` and waits to be killed.
struct BenchChild: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "_bench-child", abstract: "Internal: the process W6 of `pogreb bench` kills.", shouldDisplay: false
    )

    enum Step: String, ExpressibleByArgument { case load, tail }

    @Argument var step: Step
    @Option var path: String
    @Option var count: Int
    @Option var tail: Int = 0
    @Option var segmentSize: Int?

    func run() throws {
        var options = Options()
        if let segmentSize { options.segmentSize = segmentSize }
        let db = try engine("opening \(path)") { () throws(PogrebError) -> Database in
            try Database.open(at: path, options: options)
        }
        var key = [UInt8](repeating: 0, count: WorkloadData.keySize)
        var value = [UInt8](repeating: 0, count: WorkloadData.valueSize)
        switch step {
        case .load:
            for id in WorkloadData.loadOrder(count) {
                WorkloadData.fillKey(UInt64(id), &key)
                WorkloadData.fillValue(UInt64(id), version: 0, &value)
                try engine { () throws(PogrebError) in try db.put(key, value) }
            }
            try engine { () throws(PogrebError) in try db.sync() }
            announce("synced")
        case .tail:
            for id in count..<(count + tail) {
                WorkloadData.fillKey(UInt64(id), &key)
                WorkloadData.fillValue(UInt64(id), version: 0, &value)
                try engine { () throws(PogrebError) in try db.put(key, value) }
            }
            announce("written")
        }
        while true { pause() }
    }

    private func announce(_ word: String) {
        let line = word + "\n"
        _ = line.utf8CString.withUnsafeBufferPointer { write(1, $0.baseAddress, $0.count - 1) }
    }
}
