import PogrebTestSupport
import Testing

@testable import Pogreb

/// Keys and values of the types people have: `[UInt8]`, any byte sequence, `String`.
@Suite struct OverloadTests {
    @Test func stringKeysAndValuesAreTheirUTF8Bytes() throws {
        try withDatabase(.memory) { db, _ in
            try db.put("naïve", "café")
            #expect(try db.get(bytes("naïve")) == bytes("café"))
            #expect(try db.get("naïve") == bytes("café"))
            #expect(try db.string(forKey: "naïve") == "café")
            #expect(try db.contains("naïve"))
            #expect(try db.string(forKey: "absent") == nil)
            try db.put("bytes", [0xFF, 0x00])
            #expect(try db.get("bytes") == [0xFF, 0x00])
            #expect(try db.string(forKey: "bytes") == "\u{FFFD}\u{0}", "invalid UTF-8 is repaired")
            // A String built from bridged or sliced text is the same key.
            let built = String("xnaïve".dropFirst())
            #expect(try db.string(forKey: built) == "café")
            #expect(try db.delete("naïve"))
            #expect(try db.delete("naïve") == false)
            #expect(try db.get(bytes("naïve")) == nil)
            try db.put("", "empty key")
            #expect(try db.string(forKey: "") == "empty key")
        }
    }

    /// Every overload of `contains` and `get` gives the same answer for a damaged record: the
    /// checksum is checked by all of them, so none says "present" while another throws.
    @Test(arguments: FileSystemKind.allCases)
    func containsAgreesAcrossOverloadsOnADamagedRecord(kind: FileSystemKind) throws {
        try withTestDatabase(kind) { t in
            var db = try t.open()
            try db.put("damaged", "a value whose last byte is flipped")
            try db.put("intact", "fine")
            try db.close()
            guard let segment = try t.segmentNames().last else { throw TestSupportError("no segment") }
            try t.modify(segment) { bytes in
                let value = Array("a value whose last byte is flipped".utf8)
                guard let end = bytes.indices.last(where: { bytes[$0 - value.count + 1...$0].elementsEqual(value) })
                else { return }
                bytes[end] ^= 0x01
            }
            db = try t.open()
            defer { try? db.close() }
            let key = bytes("damaged")
            let calls: [(String, () throws -> Any)] = [
                ("contains([UInt8])", { try db.contains(key) }),
                ("contains(String)", { try db.contains("damaged") }),
                ("contains(ArraySlice)", { try db.contains(key[...]) }),
                ("contains(lazy sequence)", { try db.contains(key.lazy.map { $0 }) }),
                ("get([UInt8])", { try db.get(key) as Any }),
                ("get(String)", { try db.get("damaged") as Any }),
                ("get(many:)", { try db.get(many: [key]) }),
                ("withValue", { try db.withValue(forKey: key) { $0?.count ?? -1 } }),
            ]
            for (name, call) in calls {
                #expect(throws: PogrebError.self, "\(name) on a damaged record (\(kind))") { _ = try call() }
                do { _ = try call() } catch let error as PogrebError {
                    #expect(error.code == .corrupted, "\(name): \(error)")
                }
            }
            #expect(try db.contains("intact"))
            #expect(try db.contains(bytes("intact")))
        }
    }

    @Test func anyByteSequenceIsTheSameKey() throws {
        try withDatabase(.memory) { db, _ in
            let key = bytes("sequence-key")
            let value = workloadValue(3)
            try db.put(key[...], value[...])  // ArraySlice, contiguous
            #expect(try db.get(key) == value)
            #expect(try db.get(ContiguousArray(key)) == value)
            #expect(try db.get(key.lazy.map { $0 }) == value, "not contiguous: gathered first")
            #expect(try db.contains(key.reversed().reversed()))
            #expect(
                try db.get(bytes("xsequence-keyx").dropFirst().dropLast()) == value, "a slice that does not start at 0")
            let viaRaw = try key.withUnsafeBytes { raw in try db.get(raw) }
            #expect(viaRaw == value, "an UnsafeRawBufferPointer")
            try db.put(AnySequence(key), AnySequence(workloadValue(4)))
            #expect(try db.get(key) == workloadValue(4))
            #expect(try db.delete(key[...]))
            #expect(try db.get(key) == nil)
        }
    }

    @Test func limitsApplyToEveryOverload() throws {
        try withDatabase(.memory) { db, _ in
            let tooLong = String(repeating: "k", count: Database.maxKeySize + 1)
            expectPogrebError(.keyTooLarge) { try db.put(tooLong, "v") }
            expectPogrebError(.keyTooLarge) { try db.put(Array(tooLong.utf8)[...], bytes("v")) }
            #expect(try db.count == 0)
            let longest = String(repeating: "k", count: Database.maxKeySize)
            try db.put(longest, "v")
            #expect(try db.string(forKey: longest) == "v")
        }
    }
}
