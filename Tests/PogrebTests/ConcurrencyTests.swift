import Dispatch
import Foundation
import PogrebTestSupport
import Synchronization
import Testing
@testable import Pogreb

/// Writers, deleters, readers, iteration and compaction at once, for a bounded time: every value
/// a reader sees is a whole value that was written for that key.
@Suite struct ConcurrencyTests {
    /// A value that names its key and version and whose bytes follow from them, so a reader can
    /// check all of it: `<key>=<version>:` then `length` derived bytes.
    static func makeValue(_ key: [UInt8], version: Int, length: Int) -> [UInt8] {
        var result = key + bytes("=\(version):")
        var state = UInt64(truncatingIfNeeded: version) &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(key.count)
        for byte in key { state = (state ^ UInt64(byte)) &* 0x100_0000_01B3 }
        result.reserveCapacity(result.count + length)
        for _ in 0..<length {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            result.append(UInt8(truncatingIfNeeded: state >> 56))
        }
        return result
    }

    /// Why `value` is not a value written for `key`, or nil when it is one.
    static func problem(key: [UInt8], value: [UInt8]) -> String? {
        let prefix = key + bytes("=")
        guard value.starts(with: prefix) else {
            return "\(printable(key)) holds a value of another key: \(printable(Array(value.prefix(24))))"
        }
        guard let colon = value[prefix.count...].firstIndex(of: UInt8(ascii: ":")),
            let version = Int(String(decoding: value[prefix.count..<colon], as: UTF8.self))
        else { return "\(printable(key)): a malformed value" }
        let length = value.count - colon - 1
        guard makeValue(key, version: version, length: length) == value else {
            return "\(printable(key)): version \(version) with \(length) bytes does not hold the bytes written"
        }
        return nil
    }

    final class Shared: Sendable {
        let problems = Lock<[String]>([])
        let counts = Lock<[String: Int]>([:])

        func report(_ text: String) {
            problems.withLock { if $0.count < 50 { $0.append(text) } }
        }
        func count(_ what: String, _ n: Int = 1) {
            counts.withLock { $0[what, default: 0] += n }
        }
    }

    /// Runs each of `roles` on its own thread until `seconds` have passed, and waits for all.
    static func run(seconds: Double, _ roles: [@Sendable (Deadline) -> Void]) {
        let deadline = Deadline(seconds: seconds)
        let done = DispatchSemaphore(value: 0)
        for role in roles {
            let thread = Thread {
                role(deadline)
                done.signal()
            }
            thread.stackSize = 4 << 20
            thread.start()
        }
        for _ in roles { done.wait() }
    }

    /// Two writers putting and deleting the same few keys: each probes before it takes the writer
    /// lock, so the other often changes the key in between and the slot it found is stale. The
    /// index must still hold one slot per key (count, invariants), every value must be whole, and
    /// the dead bytes must be exactly the log minus the live records (nothing counted twice or
    /// missed), also after a reopen.
    @Test(arguments: FileSystemKind.allCases)
    func writersRacingOnTheSameKeysKeepOneSlotPerKey(kind: FileSystemKind) throws {
        try withTestDatabase(kind) { t in
            let db = try t.open { $0.writeBufferSize = 8192 }
            let keys = (0..<6).map { key($0) }
            let seeds = (0..<2).map { _ in UInt64.random(in: 0...UInt64.max) }
            print("seeds: \(seeds)")
            let shared = Shared()
            let writer = { (seed: UInt64) -> @Sendable (Deadline) -> Void in
                { deadline in
                    var generator = SeededGenerator(seed: seed)
                    var version = 0
                    while !deadline.hasPassed && version < 20_000 {
                        version += 1
                        let k = keys[Int.random(in: 0..<keys.count, using: &generator)]
                        do {
                            if version % 7 == 0 {
                                try db.delete(k)
                            } else {
                                let length = Int.random(in: 0..<1500, using: &generator)
                                try db.put(k, Self.makeValue(k, version: version, length: length))
                            }
                        } catch {
                            shared.report("writer: \(error)")
                            return
                        }
                    }
                }
            }
            Self.run(seconds: 1, [writer(seeds[0]), writer(seeds[1])])
            let problems = shared.problems.withLock { $0 }
            #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
            var model = ReferenceModel()
            try db.forEachItem { model.put($0.key, $0.value) }
            for (k, v) in model.entries { #expect(Self.problem(key: k, value: v) == nil) }
            func expectExactDeadBytes(_ db: Database) throws {
                let statistics = try db.statistics
                let live = model.entries.reduce(Int64(0)) {
                    $0 + Int64(Record.headerSize + $1.key.count + $1.value.count)
                }
                let headers = Int64(statistics.segments.count * FileHeader.size)
                #expect(statistics.deadBytes == statistics.logBytes - headers - live)
            }
            try expectExactDeadBytes(db)
            try checkInvariants(db, model: model)
            try db.close()
            let again = try t.open()
            try checkInvariants(again, model: model)
            try again.close()
        }
    }

    /// 1.5 s per file-system kind, or `POGREB_CONCURRENCY_SECONDS` (scripts/soak.sh sets it).
    @Test(arguments: FileSystemKind.allCases)
    func readersSeeOnlyWholeValuesOfTheirKey(kind: FileSystemKind) throws {
        let seconds = getenv("POGREB_CONCURRENCY_SECONDS").flatMap { Double(String(cString: $0)) } ?? 1.5
        try Self.readersSeeOnlyWholeValues(kind: kind, seconds: seconds)
    }

    @Test(.enabled(if: longTestsEnabled, "set POGREB_LONG_TESTS=1"), arguments: FileSystemKind.allCases)
    func longReadersSeeOnlyWholeValuesOfTheirKey(kind: FileSystemKind) throws {
        try Self.readersSeeOnlyWholeValues(kind: kind, seconds: 20)
    }

    static func readersSeeOnlyWholeValues(kind: FileSystemKind, seconds: Double) throws {
        try withTestDatabase(
            kind,
            configure: { options in
                smallOptions(&options)
                options.writeBufferSize = 8 << 10
                options.checkpointDirtyBuckets = 256
                options.compactionMinDeadBytes = 64 << 10
                options.compactionMinDeadFraction = 0.3
            }
        ) { t in
            let db = try t.open()
            let keyCount = 300
            let shared = Shared()
            let seeds = (0..<5).map { _ in UInt64.random(in: 0...UInt64.max) }
            print("seeds: \(seeds)")
            let keys = (0..<keyCount).map { key($0) }
            for (i, k) in keys.enumerated() { try db.put(k, Self.makeValue(k, version: 0, length: i % 100)) }

            let writer: @Sendable (Deadline) -> Void = { deadline in
                var generator = SeededGenerator(seed: seeds[0])
                var version = 1
                while !deadline.hasPassed {
                    do {
                        version += 1
                        let k = keys[Int.random(in: 0..<keyCount, using: &generator)]
                        // About 3 KB a value: the log rotates and compaction has work.
                        let length = Int.random(in: 0..<(version % 50 == 0 ? 20_000 : 6000), using: &generator)
                        if version % 20 == 0 {
                            try db.write { batch in
                                for j in 0..<5 {
                                    let bk = keys[(Int.random(in: 0..<keyCount, using: &generator) + j) % keyCount]
                                    batch.put(bk, Self.makeValue(bk, version: version, length: length))
                                }
                            }
                            shared.count("batches")
                        } else {
                            try db.put(k, Self.makeValue(k, version: version, length: length))
                            shared.count("puts")
                        }
                        if version % 500 == 0 { try db.checkpoint() }
                        if version % 97 == 0 { try db.sync() }
                    } catch {
                        shared.report("writer: \(error)")
                        return
                    }
                }
            }
            let deleter: @Sendable (Deadline) -> Void = { deadline in
                var generator = SeededGenerator(seed: seeds[1])
                while !deadline.hasPassed {
                    do {
                        try db.delete(keys[Int.random(in: 0..<keyCount, using: &generator)])
                        shared.count("deletes")
                        if Int.random(in: 0..<4, using: &generator) == 0 { Thread.sleep(forTimeInterval: 0.0005) }
                    } catch {
                        shared.report("deleter: \(error)")
                        return
                    }
                }
            }
            let reader: @Sendable (Int) -> @Sendable (Deadline) -> Void = { n in
                { @Sendable deadline in
                    var generator = SeededGenerator(seed: seeds[2 + n])
                    while !deadline.hasPassed {
                        do {
                            let k = keys[Int.random(in: 0..<keyCount, using: &generator)]
                            if n == 0 {
                                if let v = try db.get(k) {
                                    if let problem = Self.problem(key: k, value: v) { shared.report("get: \(problem)") }
                                    shared.count("hits")
                                }
                            } else {
                                let problem = try db.withValue(forKey: k) { raw in
                                    raw.flatMap { Self.problem(key: k, value: Array($0)) }
                                }
                                if let problem { shared.report("withValue: \(problem)") }
                                _ = try db.contains(k)
                            }
                            shared.count("reads")
                        } catch {
                            shared.report("reader \(n): \(error)")
                            return
                        }
                    }
                }
            }
            let maintainer: @Sendable (Deadline) -> Void = { deadline in
                var round = 0
                while !deadline.hasPassed {
                    do {
                        round += 1
                        var seen = Set<[UInt8]>()
                        try db.forEachItem { item in
                            if let problem = Self.problem(key: item.key, value: item.value) {
                                shared.report("forEachItem: \(problem)")
                            }
                            if !seen.insert(item.key).inserted {
                                shared.report("forEachItem returned \(printable(item.key)) twice")
                            }
                        }
                        shared.count("walks")
                        if round % 2 == 0 {
                            let result = try db.compact()
                            shared.count("segments compacted", result.segmentsCompacted)
                        }
                        _ = try db.statistics
                    } catch {
                        shared.report("maintainer: \(error)")
                        return
                    }
                }
            }
            Self.run(seconds: seconds, [writer, deleter, reader(0), reader(1), maintainer])

            let problems = shared.problems.withLock { $0 }
            #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
            let counts = shared.counts.withLock { $0 }
            print(
                "\(kind): \(counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))")
            #expect(
                (counts["puts"] ?? 0) > 0 && (counts["deletes"] ?? 0) > 0 && (counts["reads"] ?? 0) > 0
                    && (counts["walks"] ?? 0) > 0)

            var model = ReferenceModel()
            try db.forEachItem { model.put($0.key, $0.value) }
            for (k, v) in model.entries { #expect(Self.problem(key: k, value: v) == nil) }
            try checkInvariants(db, model: model)
            try db.close()
            let again = try t.open()
            try checkInvariants(again, model: model)
            try again.close()
        }
    }

    @Test(arguments: FileSystemKind.allCases)
    func concurrentWritersAreSerialized(kind: FileSystemKind) throws {
        try withTestDatabase(kind, configure: smallOptions) { t in
            let db = try t.open { $0.syncPolicy = .everyWrite }
            let shared = Shared()
            // Four writers, each on its own keys, with group commit; their counts must add up.
            let writers: [@Sendable (Deadline) -> Void] = (0..<4).map { w in
                { deadline in
                    var n = 0
                    while !deadline.hasPassed {
                        do {
                            let k = bytes("w\(w)-\(n)")
                            try db.put(k, Self.makeValue(k, version: n, length: n % 300))
                            n += 1
                        } catch {
                            shared.report("writer \(w): \(error)")
                            return
                        }
                    }
                    shared.count("w\(w)", n)
                }
            }
            Self.run(seconds: 0.8, writers)
            let problems = shared.problems.withLock { $0 }
            #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
            let counts = shared.counts.withLock { $0 }
            let total = counts.values.reduce(0, +)
            #expect(try db.count == total)
            for w in 0..<4 {
                for n in 0..<(counts["w\(w)"] ?? 0) {
                    let k = bytes("w\(w)-\(n)")
                    #expect(try db.get(k) == Self.makeValue(k, version: n, length: n % 300))
                }
            }
            // Every write was durable when it returned: a crash now loses nothing.
            if let memory = t.memory {
                abandon(db)
                let image = try Database.open(fileSystem: memory.crashImage(), options: t.options)
                #expect(try image.count == total)
                try image.close()
            } else {
                try db.close()
            }
        }
    }
}
