import PogrebTestSupport
import Testing
@testable import Pogreb

@Suite struct GetManyTests {
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
