import FoundationEssentials
import Pogreb
import PogrebFoundation
import PogrebTestSupport
import Testing

/// `Data` keys and values.
@Suite struct DataTests {
    static func open() throws -> Database {
        try Database.open(fileSystem: MemoryFileSystem(displayPath: "memory:/db"))
    }

    @Test func roundTrips() throws {
        let db = try Self.open()
        defer { try? db.close() }
        let key = Data("user:42".utf8)
        let value = Data((0..<300).map { UInt8(truncatingIfNeeded: $0) })
        #expect(try db.get(key) == nil)
        #expect(try db.contains(key) == false)
        try db.put(key, value)
        let stored: Data? = try db.get(key)
        #expect(stored == value)
        #expect(try db.contains(key))
        #expect(try db.withValue(forKey: key) { $0.map { Data($0) } } == value)
        #expect(try db.withValue(forKey: Data("absent".utf8)) { $0 == nil })
        #expect(try db.delete(key))
        #expect(try db.delete(key) == false)
        #expect(try db.get(key) == nil)
    }

    /// A `Data` key and the same bytes as `[UInt8]` or `String` are one key.
    @Test func dataIsTheSameKeyAsItsBytes() throws {
        let db = try Self.open()
        defer { try? db.close() }
        try db.put(Data("k".utf8), Data("from data".utf8))
        #expect(try db.get(Array("k".utf8)) == Array("from data".utf8))
        #expect(try db.string(forKey: "k") == "from data")
        try db.put("s", Data("from a string key".utf8))
        #expect(try db.data(forKey: "s") == Data("from a string key".utf8))
        #expect(try db.get(Data("s".utf8)) == Data("from a string key".utf8))
        try db.put(Array("b".utf8), Array("from bytes".utf8))
        #expect(try db.get(Data("b".utf8)) == Data("from bytes".utf8))
        #expect(try db.data(forKey: "absent") == nil)
    }

    /// Slices of a `Data` (whose indices do not start at 0), empty values, and a large value.
    @Test func slicesEmptyAndLarge() throws {
        let db = try Self.open()
        defer { try? db.close() }
        let whole = Data("xxkeyxx".utf8)
        let slice = whole[2..<5]
        #expect(slice.startIndex == 2)
        try db.put(slice, Data())
        #expect(try db.get(Data("key".utf8)) == Data())
        #expect(try db.withValue(forKey: slice) { $0?.count } == 0)
        let large = Data(repeating: 0xAB, count: 1 << 20)
        try db.put(Data("large".utf8), large)
        #expect(try db.get(Data("large".utf8)) == large)
    }

    @Test func errorsAreTyped() throws {
        let db = try Self.open()
        let tooLong = Data(repeating: 1, count: Database.maxKeySize + 1)
        do {
            try db.put(tooLong, Data())
            Issue.record("a key over the limit was stored")
        } catch {
            #expect(error.code == .keyTooLarge)  // typed: `error` is a PogrebError
        }
        try db.close()
        #expect(throws: PogrebError.self) { try db.get(Data("k".utf8)) }
    }
}
