import Glibc
import Pogreb
import PogrebTestSupport
import Testing

/// The tool on a database of thousands of segments in a process allowed 256 descriptors: before
/// segments opened lazily through a bounded cache, every segment was opened (and mapped) at open,
/// and such a database could not be opened at all.
@Suite struct SegmentCacheToolTests {
    @Test func getAndCheckWorkOnFiveThousandSegmentsUnderUlimit256() throws {
        // A tmpfs when there is one (withTemporaryDirectory): 5 000 rotations, 5 000 fdatasyncs.
        try withTemporaryDirectory { directory in try Self.run(path: directory + "/db") }
    }

    static func run(path: String) throws {
        var options = Options()
        options.minimumSegmentSize = 4096
        options.segmentSize = 4096
        let value = { (i: Int) in Array("\(i):".utf8) + [UInt8](repeating: UInt8(truncatingIfNeeded: i), count: 1_700) }
        let db = try Database.open(at: path, options: options)
        for i in 0..<15_000 { try db.put(Array("key-\(i)".utf8), value(i)) }
        try db.close()
        let segments = try segmentFiles(path).count
        #expect(segments >= 5_000, "\(segments) segments")

        // `sh -c 'ulimit -n 256; exec pogreb …'`: the limit applies to the tool alone.
        let script = "ulimit -n 256 && exec \"$0\" \"$@\""
        let binary = try pogrebBinary()
        for key in [0, 7_777, 14_999] {
            let get = try runBinary(["-c", script, binary, "get", path, "key-\(key)"], executable: "/bin/sh")
            #expect(get.status == 0, "\(get.status) \(get.error)")
            #expect(get.output == value(key))
        }
        let check = try runBinary(["-c", script, binary, "check", path], executable: "/bin/sh")
        #expect(check.status == 0, "\(check)")
        // The limit was in force: the same check with too few descriptors for even the cache's
        // floor fails cleanly instead of succeeding by accident.
        let starved = try runBinary(
            ["-c", "ulimit -n 5 && exec \"$0\" \"$@\"", binary, "check", path], executable: "/bin/sh")
        #expect(starved.status != 0)
    }
}
