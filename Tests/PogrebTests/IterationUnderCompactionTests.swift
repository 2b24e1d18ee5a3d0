import Foundation
import Synchronization
import PogrebTestSupport
import Testing
@testable import Pogreb

/// Iteration while compaction moves records.
@Suite struct IterationUnderCompactionTests {
    static func rotate(_ db: Database) throws {
        try db.writer.withLock { (w) throws(PogrebError) in try db.rotate(writer: &w) }
    }

    /// A key written twice with the same value before a walk, whose newer record compaction moves
    /// before the walk checks the older one, is returned once.
    @Test func anUntouchedKeyIsReturnedOnceWhileCompactionMovesItsRecords() throws {
        var options = Options()
        smallOptions(&options)
        options.compactionMinDeadBytes = 1
        options.compactionMinDeadFraction = 0
        let db = try Database.open(fileSystem: MemoryFileSystem(), options: options)
        defer { try? db.close() }
        // S1: 300 live fillers, then K = v (older record, A1).
        for i in 0..<300 { try db.put(key(i), value(i)) }
        try db.put(bytes("K"), bytes("v"))
        try Self.rotate(db)
        // S2: K = v again (A2, current), plus some garbage so S2 qualifies.
        try db.put(bytes("K"), bytes("v"))
        try db.put(bytes("X"), bytes("a"))
        try db.put(bytes("X"), bytes("b"))
        try Self.rotate(db)

        var iterator = db.items().makeIterator()
        var seen: [[UInt8]: Int] = [:]
        guard let first = iterator.next() else {
            Issue.record("empty")
            return
        }
        seen[first.key, default: 0] += 1
        // Compaction runs while the walk is inside S1, before it reaches A1.
        let result = try db.compact()
        #expect(result.segmentsCompacted >= 1)
        while let item = iterator.next() { seen[item.key, default: 0] += 1 }
        #expect(iterator.failure == nil)
        #expect(
            seen[bytes("K")] == 1, "K returned \(seen[bytes("K")] ?? 0) times; the key was not written during the walk")
    }
}
