import PogrebTestSupport
import Testing
@testable import Pogreb

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
