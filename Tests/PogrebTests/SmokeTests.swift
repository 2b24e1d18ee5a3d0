import Testing
@testable import Pogreb

@Suite struct SmokeTests {
    @Test func putGetReopen() throws {
        let fs = MemoryFileSystem()
        var options = Options()
        options.segmentSize = 1 << 20
        let db = try Database.open(fileSystem: fs, options: options)
        for i in 0..<5000 {
            try db.put(Array("key\(i)".utf8), Array("value\(i)".utf8))
        }
        #expect(try db.count == 5000)
        #expect(try db.get(Array("key42".utf8)) == Array("value42".utf8))
        #expect(try db.delete(Array("key42".utf8)) == true)
        #expect(try db.get(Array("key42".utf8)) == nil)
        try db.close()
        let again = try Database.open(fileSystem: fs, options: options)
        #expect(try again.count == 4999)
        for i in 0..<5000 where i != 42 {
            #expect(try again.get(Array("key\(i)".utf8)) == Array("value\(i)".utf8))
        }
        #expect(try again.statistics.recordsReplayedAtOpen == 0)
        var n = 0
        try again.forEachItem { _ in n += 1 }
        #expect(n == 4999)
        try again.close()
    }

    @Test func crashReplaysTail() throws {
        let fs = MemoryFileSystem()
        let db = try Database.open(fileSystem: fs)
        for i in 0..<1000 { try db.put(Array("k\(i)".utf8), Array("v\(i)".utf8)) }
        try db.checkpoint()
        for i in 1000..<1100 { try db.put(Array("k\(i)".utf8), Array("v\(i)".utf8)) }
        try db.sync()
        let image = fs.crashImage()
        let reopened = try Database.open(fileSystem: image)
        #expect(try reopened.count == 1100)
        #expect(try reopened.statistics.recordsReplayedAtOpen == 100)
        for i in 0..<1100 { #expect(try reopened.get(Array("k\(i)".utf8)) == Array("v\(i)".utf8)) }
        try reopened.close()
        try db.close()
    }
}

@Suite struct ManyTests {
    @Test func getManyMatchesGet() throws {
        let fs = MemoryFileSystem()
        let db = try Database.open(fileSystem: fs)
        for i in 0..<3000 where i % 3 != 0 { try db.put(Array("k\(i)".utf8), Array("v\(i)".utf8)) }
        try db.checkpoint()  // most lookups then read mapped buckets, which get(many:) prefetches
        for i in 3000..<3100 { try db.put(Array("k\(i)".utf8), Array("v\(i)".utf8)) }
        let keys = (0..<3100).map { Array("k\($0)".utf8) } + [[], Array(repeating: 7, count: 300)]
        let many = try db.get(many: keys)
        #expect(many.count == keys.count)
        for (i, key) in keys.enumerated() {
            #expect(many[i] == (try db.get(key)), "key \(i)")
        }
        #expect(many[1] == Array("v1".utf8))
        #expect(many[0] == nil)
        try db.close()
    }
}

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

@Suite struct IndexShapeTests {
    /// The shape agrees with the statistics and with the verifier's longest chain.
    @Test func shapeMatchesStatisticsAndVerify() throws {
        let db = try Database.open(fileSystem: MemoryFileSystem())
        for i in 0..<20_000 { try db.put(Array("k\(i)".utf8), Array("v".utf8)) }
        let shape = try db.indexShape()
        let statistics = try db.statistics
        #expect(shape.buckets == statistics.bucketCount)
        #expect(shape.overflowBucketsInUse <= statistics.overflowBucketCount)
        #expect(shape.longestChain >= 1)
        #expect(shape.bucketsWithOverflow <= shape.buckets)
        #expect(shape.longestChain == (try db.verify()).longestChain)
        try db.close()
    }
}
