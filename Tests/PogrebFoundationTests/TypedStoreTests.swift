import Dispatch
import FoundationEssentials
import Pogreb
import PogrebFoundation
import PogrebTestSupport
import Synchronization
import Testing

/// The typed `Codable` layer.
@Suite struct TypedStoreTests {
    struct User: Codable, Equatable, Sendable {
        var name: String
        var visits: Int
        var tags: [String: Int] = [:]
    }

    struct Composite: Codable, Equatable, Hashable, Sendable {
        var tenant: String
        var id: Int
        var attributes: [String: String]
    }

    static func open() throws -> Database {
        try Database.open(fileSystem: MemoryFileSystem(displayPath: "memory:/db"))
    }

    @Test func roundTripsValues() throws {
        let db = try Self.open()
        defer { try? db.close() }
        let users = db.typed(String.self, User.self)
        let alice = User(name: "Alice", visits: 1, tags: ["b": 2, "a": 1])
        #expect(try users.get("alice") == nil)
        try users.put("alice", alice)
        #expect(try users.get("alice") == alice)
        #expect(try users.contains("alice"))
        #expect(try users.putIfAbsent("alice", User(name: "Other", visits: 0)) == false)
        #expect(try users.putIfAbsent("bob", User(name: "Bob", visits: 0)))
        #expect(try users.delete("bob"))
        #expect(try users.get("bob") == nil)
    }

    /// A `String` key is its UTF-8 bytes, and a value is its sorted-keys JSON, readable through
    /// the byte API.
    @Test func theEncodingIsTheDocumentedOne() throws {
        let db = try Self.open()
        defer { try? db.close() }
        let users = db.typed(String.self, User.self)
        try users.put("alice", User(name: "Alice", visits: 3, tags: ["z": 1, "a": 2]))
        let raw = try db.string(forKey: "alice")
        #expect(raw == #"{"name":"Alice","tags":{"a":2,"z":1},"visits":3}"#)
        #expect(try users.encodedKey("alice") == Data("alice".utf8))
    }

    /// A key that is not a `String` encodes to the same bytes every time, whatever the order of
    /// its dictionaries, so it finds its record again.
    @Test func compositeKeysAreDeterministic() throws {
        let db = try Self.open()
        defer { try? db.close() }
        let store = db.typed(Composite.self, Int.self)
        var attributes: [String: String] = [:]
        for i in 0..<50 { attributes["attribute-\(i)"] = "\(i)" }
        let key = Composite(tenant: "t", id: 7, attributes: attributes)
        try store.put(key, 42)
        // The same key built in another order.
        var reversed: [String: String] = [:]
        for i in (0..<50).reversed() { reversed["attribute-\(i)"] = "\(i)" }
        let again = Composite(tenant: "t", id: 7, attributes: reversed)
        #expect(try store.encodedKey(again) == store.encodedKey(key))
        #expect(try store.get(again) == 42)
        #expect(try store.get(Composite(tenant: "t", id: 8, attributes: attributes)) == nil)
        let text = String(decoding: try store.encodedKey(key), as: UTF8.self)
        #expect(text.hasPrefix(#"{"attributes":{"attribute-0":"0","attribute-1":"1","attribute-10":"10""#))
    }

    @Test func updateIsAtomicAgainstOtherWriters() throws {
        let db = try Self.open()
        defer { try? db.close() }
        let counters = db.typed(String.self, Int.self)
        let threads = 4
        let increments = 200
        let done = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: threads) { _ in
            for _ in 0..<increments { _ = try? counters.update("hits") { ($0 ?? 0) + 1 } }
            done.add(1, ordering: .relaxed)
        }
        #expect(done.load(ordering: .relaxed) == threads)
        #expect(try counters.get("hits") == threads * increments)
        // Returning nil deletes.
        #expect(try counters.update("hits") { _ in nil } == nil)
        #expect(try counters.contains("hits") == false)
    }

    @Test func decodingErrorsAndTransformErrors() throws {
        struct Refused: Error {}
        let db = try Self.open()
        defer { try? db.close() }
        let users = db.typed(String.self, User.self)
        try db.put("broken", "not json")  // written through the byte API
        #expect(throws: DecodingError.self) { try users.get("broken") }
        #expect(throws: DecodingError.self) { try users.update("broken") { $0 } }
        try users.put("alice", User(name: "Alice", visits: 1))
        #expect(throws: Refused.self) { try users.update("alice") { _ in throw Refused() } }
        #expect(try users.get("alice") == User(name: "Alice", visits: 1))
        let updated = try users.update("alice") { user in user.map { User(name: $0.name, visits: $0.visits + 1) } }
        #expect(updated == User(name: "Alice", visits: 2))
    }
}
