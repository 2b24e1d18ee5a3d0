import PogrebTestSupport
import Testing
@testable import Pogreb

@Suite struct ActiveSegmentCompactionTests {
    /// W5 in small: everything lives in the active segment, half of it dead; compaction seals it
    /// and rewrites it.
    @Test func compactsTheActiveSegment() throws {
        let fs = MemoryFileSystem()
        let db = try Database.open(fileSystem: fs)
        let value = [UInt8](repeating: 7, count: 128)
        for i in 0..<20_000 { try db.put(Array("key-\(i)".utf8), value) }
        for _ in 0..<2 {
            for i in stride(from: 0, to: 20_000, by: 2) { try db.put(Array("key-\(i)".utf8), value + [1]) }
        }
        try db.sync()
        let before = try db.statistics
        #expect(Double(before.deadBytes) >= 0.5 * Double(before.logBytes - 64))  // of record bytes
        let result = try db.compact()
        #expect(result.segmentsCompacted == 1)
        #expect(result.bytesReclaimed > 0)
        let after = try db.statistics
        #expect(after.logBytes < before.logBytes)
        for i in 0..<20_000 {
            #expect(try db.get(Array("key-\(i)".utf8)) == (i % 2 == 0 ? value + [1] : value))
        }
        try db.close()
    }
}
