import PogrebTestSupport
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
