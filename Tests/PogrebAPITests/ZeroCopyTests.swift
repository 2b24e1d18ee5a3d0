import PogrebTestSupport
import Synchronization
import Testing

@testable import Pogreb

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `withValue(forKey:_:)`: the stored bytes, lent without a copy for the duration of the closure.
@Suite struct ZeroCopyTests {
    struct Marker: Error, Equatable {}

    @Test(arguments: FileSystemKind.allCases)
    func lendsTheStoredBytes(kind: FileSystemKind) throws {
        try withDatabase(kind) { db, t in
            let small = workloadValue(1)
            let large = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }  // past one 4 KiB pread
            try db.put(workloadKey(1), small)
            try db.put(workloadKey(2), large)
            try db.put(workloadKey(3), [])

            func check(_ db: Database, _ when: String) throws {
                #expect(try db.withValue(forKey: workloadKey(1)) { $0.map { Array($0) } } == small, "\(when)")
                #expect(try db.withValue(forKey: workloadKey(2)) { $0.map { Array($0) } } == large, "\(when)")
                #expect(
                    try db.withValue(forKey: workloadKey(3)) { $0.map { Array($0) } } == [],
                    "an empty value is lent as an empty buffer, not nil (\(when))")
                #expect(try db.withValue(forKey: workloadKey(4)) { $0 == nil }, "absent (\(when))")
                #expect(try db.withValue(forKey: workloadKey(2)) { $0.map { Array($0) } } == db.get(workloadKey(2)))
            }
            try check(db, "from the write buffer")
            try db.sync()
            try check(db, "from the file")
            try db.close()
            let again = try t.open()
            defer { try? again.close() }
            try check(again, "after reopening")
        }
    }

    @Test func passesResultsAndErrorsThrough() throws {
        try withDatabase(.memory) { db, _ in
            try db.put(bytes("k"), bytes("value"))
            #expect(try db.withValue(forKey: bytes("k")) { $0?.count } == 5)
            #expect(throws: Marker.self) { try db.withValue(forKey: bytes("k")) { _ in throw Marker() } }
            #expect(throws: Marker.self) { try db.withValue(forKey: bytes("absent")) { _ in throw Marker() } }
            // The database is still usable after a body threw.
            try db.put(bytes("k"), bytes("other"))
            #expect(try db.get(bytes("k")) == bytes("other"))
        }
    }

    @Test func keysOfOtherTypes() throws {
        try withDatabase(.memory) { db, _ in
            try db.put(bytes("héllo"), bytes("wörld"))
            let expected = bytes("wörld")
            #expect(try db.withValue(forKey: "héllo") { $0.map { Array($0) } } == expected)
            #expect(
                try db.withValue(forKey: bytes("xhéllo")[1...]) { $0.map { Array($0) } } == expected, "an array slice")
            #expect(try db.withValue(forKey: ContiguousArray(bytes("héllo"))) { $0.map { Array($0) } } == expected)
            let notContiguous = bytes("héllo").lazy.map { $0 }  // gathered into an array first
            #expect(try db.withValue(forKey: notContiguous) { $0.map { Array($0) } } == expected)
            #expect(try db.withValue(forKey: "absent") { $0 == nil })
        }
    }

    /// The value of version `v` of the overwritten key: 4 000 bytes, the version in the first 8,
    /// then the version's low byte repeated, so that any byte from another version shows.
    static func versioned(_ v: Int) -> [UInt8] {
        var value = [UInt8](repeating: UInt8(truncatingIfNeeded: v), count: 4_000)
        value.withUnsafeMutableBytes { $0.storeBytes(of: UInt64(v).littleEndian, as: UInt64.self) }
        return value
    }

    /// The version held in `bytes`, or nil when the bytes are not one whole version.
    static func version(of bytes: UnsafeRawBufferPointer) -> Int? {
        guard bytes.count == 4_000 else { return nil }
        let v = Int(UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self)))
        let fill = UInt8(truncatingIfNeeded: v)
        for i in 8..<bytes.count where bytes[i] != fill { return nil }
        return v
    }

    /// While one thread overwrites a key (and compacts, so segments are rewritten and deleted),
    /// the bytes lent to readers are whole versions, never go backwards, and do not change while
    /// the closure holds them.
    @Test(arguments: FileSystemKind.allCases)
    func bytesStayCorrectWhileAWriterOverwrites(kind: FileSystemKind) throws {
        try withDatabase(
            kind,
            configure: {
                $0.segmentSize = 1 << 20
                $0.writeBufferSize = 64 << 10
                $0.compactionMinDeadBytes = 0
                $0.compactionMinDeadFraction = 0.2
            }
        ) { db, _ in
            let hot = bytes("hot")
            let cold = bytes("cold")
            let coldValue = workloadValue(7)
            try db.put(cold, coldValue)  // never overwritten, but moved by compaction
            try db.put(hot, Self.versioned(0))
            let versions = 3_000
            let stop = StopFlag()
            let reads = Atomic<Int>(0)
            let compactions = Atomic<Int>(0)
            try onThreads(3) { thread in
                if thread == 0 {
                    defer { stop.stop() }
                    for v in 1...versions {
                        try db.put(hot, Self.versioned(v))
                        if v % 250 == 0 {
                            let result = try db.compact()
                            compactions.add(result.segmentsCompacted, ordering: .relaxed)
                        }
                    }
                    return
                }
                var last = 0
                var round = 0
                while !stop.isStopped || round < 100 {
                    round += 1
                    let seen = try db.withValue(forKey: hot) { (lent) -> Int? in
                        guard let lent, let v = Self.version(of: lent) else { return nil }
                        if round % 8 == 0 {
                            // Hold the bytes a while, letting the writer run, then look again.
                            for _ in 0..<200 { sched_yield() }
                            guard Self.version(of: lent) == v else { return nil }
                        }
                        return v
                    }
                    guard let seen else {
                        Issue.record(
                            "reader \(thread) was lent bytes that are not one whole version, or that changed while lent"
                        )
                        return
                    }
                    #expect(seen >= last, "versions went backwards: \(last) then \(seen)")
                    last = seen
                    let coldOK = try db.withValue(forKey: cold) { $0.map { $0.elementsEqual(coldValue) } }
                    #expect(coldOK == true)
                    reads.add(1, ordering: .relaxed)
                }
            }
            #expect(try db.get(hot) == Self.versioned(versions))
            #expect(reads.load(ordering: .relaxed) >= 200)
            #expect(compactions.load(ordering: .relaxed) > 0, "the test means to compact while readers hold bytes")
            try checkInvariants(db)
        }
    }
}
