import PogrebTestSupport
import Testing

@testable import Pogreb

/// `HashIndex` in memory (no mapped files: every bucket it writes lives in its dirty set), driven
/// through upsert, remove, split and growIfNeeded against a fake record store, with
/// `checkHashIndexInvariants` run after every step.
///
/// Only `Harness` touches the index, through its module API (`upsert`, `remove`, `find`, `split`,
/// `growIfNeeded`, `chain(startingAt:)`, `bucket(_:)` and the counters), so that a change of the
/// index's internals (such as the type of bucket ids) has one place to follow it here.
@Suite("HashIndex invariants")
struct HashIndexInvariantTests {
    static let overflowFlag = HashIndexImage.overflowFlag

    /// The log, as far as the index sees it: each address holds one version of one key.
    struct Store {
        var keyAt: [UInt64: Int] = [:]
        var hashAt: [UInt64: UInt64] = [:]
        /// Each live key's current address.
        var live: [Int: UInt64] = [:]
        var nextAddress: UInt64 = 64

        /// Appends a version of `key` and returns its address (never 0, within 48 bits).
        mutating func write(_ key: Int, hash: UInt64) -> UInt64 {
            let address = nextAddress
            nextAddress += 13 + UInt64(key % 5) * 8
            keyAt[address] = key
            hashAt[address] = hash
            return address
        }

        /// Live addresses and their hashes, as the checker wants them.
        var liveHashes: [UInt64: UInt64] {
            var result: [UInt64: UInt64] = [:]
            for address in live.values { result[address] = hashAt[address] }
            return result
        }
    }

    /// The index, the store, and the hash of every key.
    struct Harness {
        var index = HashIndex(bucketCount: 16, overflowCount: 1, freeHead: 0, keyCount: 0)
        var store = Store()
        let hashOf: (Int) -> UInt64

        init(hashOf: @escaping (Int) -> UInt64) { self.hashOf = hashOf }

        /// `upsert`, checking its answer against the store.
        mutating func put(_ key: Int, sourceLocation: SourceLocation = #_sourceLocation) throws {
            let hash = hashOf(key)
            let address = store.write(key, hash: hash)
            let before = store
            let old = try index.upsert(
                hash: hash, address: address, matches: { before.keyAt[$0] == key },
                hashesOf: { addresses in Harness.hashes(addresses, in: before) })
            #expect(
                old == store.live[key], "put \(key): upsert returned \(String(describing: old))",
                sourceLocation: sourceLocation)
            store.live[key] = address
        }

        /// `remove`, checking its answer against the store.
        mutating func delete(_ key: Int, sourceLocation: SourceLocation = #_sourceLocation) throws {
            let before = store
            let old = try index.remove(hash: hashOf(key), matches: { before.keyAt[$0] == key })
            #expect(
                old == store.live[key], "delete \(key): remove returned \(String(describing: old))",
                sourceLocation: sourceLocation)
            store.live[key] = nil
        }

        mutating func split() throws {
            let before = store
            try index.split(hashesOf: { Harness.hashes($0, in: before) })
        }

        mutating func grow() throws {
            let before = store
            try index.growIfNeeded(hashesOf: { Harness.hashes($0, in: before) })
        }

        static func hashes(_ addresses: [UInt64], in store: Store) -> [UInt64] {
            addresses.map { address in
                guard let hash = store.hashAt[address] else {
                    Issue.record("the index asked for the key at \(address), which was never written")
                    return 0
                }
                return hash
            }
        }

        func find(_ key: Int) throws -> UInt64? {
            let store = self.store
            return try index.find(hash: hashOf(key), matches: { store.keyAt[$0] == key })
        }

        /// Every bucket the index can reach, by id.
        var image: HashIndexImage {
            var buckets: [UInt64: [UInt64]] = [:]
            func words(_ id: UInt64) -> [UInt64] {
                let bucket = (try? index.bucket(BucketID(rawValue: id))) ?? Bucket()
                return (0..<8).map { bucket.words[$0] }
            }
            for number in 0..<index.bucketCount { buckets[number] = words(number) }
            for number in 1..<max(index.overflowCount, 1) {
                buckets[HashIndexInvariantTests.overflowFlag | number] = words(
                    HashIndexInvariantTests.overflowFlag | number)
            }
            return HashIndexImage(
                bucketCount: index.bucketCount, overflowCount: index.overflowCount, freeHead: index.freeHead,
                keyCount: index.keyCount, buckets: buckets)
        }

        /// The invariants, then, when `thorough`, the index's own view of them: every live key found
        /// at its address, `removed` keys not found, and `chain(startingAt:)` the chain the image holds.
        func check(
            removed: [Int] = [], thorough: Bool = true, step: String, sourceLocation: SourceLocation = #_sourceLocation
        ) throws {
            let image = self.image
            do {
                try checkHashIndexInvariants(image, live: store.liveHashes, maxLoad: HashIndex.maxLoad)
            } catch {
                Issue.record("after \(step): \(error)", sourceLocation: sourceLocation)
                throw error
            }
            guard thorough else { return }
            for (key, address) in store.live {
                let found = try find(key)
                #expect(
                    found == address, "after \(step): key \(key) found at \(String(describing: found))",
                    sourceLocation: sourceLocation)
            }
            for key in removed where store.live[key] == nil {
                let found = try find(key)
                #expect(
                    found == nil, "after \(step): removed key \(key) found at \(found ?? 0)",
                    sourceLocation: sourceLocation)
            }
            for main in 0..<index.bucketCount {
                var expected = [main]
                var next = image.words(main)[7] & HashIndexImage.addressMask
                while next != 0 {
                    expected.append(HashIndexInvariantTests.overflowFlag | next)
                    next = image.words(HashIndexInvariantTests.overflowFlag | next)[7] & HashIndexImage.addressMask
                }
                #expect(
                    try index.chain(startingAt: main).map(\.rawValue) == expected, "after \(step): chain of \(main)",
                    sourceLocation: sourceLocation)
            }
        }
    }

    /// How the keys' hashes are spread.
    enum Shape: String, CaseIterable, Sendable, CustomTestStringConvertible {
        /// Uniform 64-bit hashes.
        case random
        /// The same low 24 bits: one main bucket, one long overflow chain.
        case oneBucket
        /// The same top 16 bits: every slot's tag matches every key's.
        case oneTag
        /// Eight hash values in all: keys whose whole hashes collide, told apart only by `matches`.
        case eightHashes
        /// The hash is the key number: the low bits of consecutive keys.
        case sequential

        var testDescription: String { rawValue }

        func hash(seed: UInt64) -> (Int) -> UInt64 {
            { key in
                var mixer = seed ^ (UInt64(key) &* 0x9E37_79B9_7F4A_7C15)
                let mixed = HashIndexInvariantTests.splitMix(&mixer)
                switch self {
                case .random: return mixed
                case .oneBucket: return (mixed & ~0xFF_FFFF) | 0x5A_5A5A
                case .oneTag: return (mixed & 0x0000_FFFF_FFFF_FFFF) | 0xBEEF_0000_0000_0000
                case .eightHashes:
                    var small = seed ^ UInt64(key % 8)
                    return HashIndexInvariantTests.splitMix(&small)
                case .sequential: return UInt64(key)
                }
            }
        }

        /// Keys drawn from `0..<universe`: smaller where chains get long, to keep the test fast.
        var universe: Int { self == .oneBucket || self == .eightHashes ? 80 : 250 }
    }

    static func splitMix(_ x: inout UInt64) -> UInt64 {
        x &+= 0x9E37_79B9_7F4A_7C15
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    // MARK: Workloads

    /// Puts (new keys and new versions), deletes (present and absent), explicit splits and
    /// growth, in random order, checked after every step.
    @Test(arguments: Shape.allCases)
    func randomWorkload(_ shape: Shape) throws {
        var random = SeededGenerator.make("hash index \(shape)")
        var harness = Harness(hashOf: shape.hash(seed: random.next()))
        var removed = Set<Int>()
        for step in 0..<700 {
            let key = Int.random(in: 0..<shape.universe, using: &random)
            let roll = Int.random(in: 0..<100, using: &random)
            let what: String
            switch roll {
            case 0..<55:
                what = "put \(key)"
                try harness.put(key)
                removed.remove(key)
            case 55..<90:
                what = "delete \(key)"
                try harness.delete(key)
                removed.insert(key)
            case 90..<95:
                what = "split"
                try harness.split()
            default:
                what = "growIfNeeded"
                try harness.grow()
            }
            // Every step through the checker; every fourth also through find and chain(startingAt:).
            try harness.check(
                removed: Array(removed.prefix(20)), thorough: step % 4 == 0, step: "step \(step), \(what)")
        }
        #expect(Int(harness.index.keyCount) == harness.store.live.count)
    }

    /// Every key removed, one by one: the chains shrink back to their main buckets and every
    /// overflow bucket goes to the free list, which the refill then uses before new numbers.
    @Test(arguments: [Shape.oneBucket, .random])
    func drainAndRefill(_ shape: Shape) throws {
        var random = SeededGenerator.make("hash index drain \(shape)")
        var harness = Harness(hashOf: shape.hash(seed: random.next()))
        let keys = Array(0..<100)
        for key in keys {
            try harness.put(key)
            try harness.check(step: "put \(key)")
        }
        let overflowCount = harness.index.overflowCount
        var removed: [Int] = []
        for key in keys.shuffled(using: &random) {
            try harness.delete(key)
            removed.append(key)
            try harness.check(removed: Array(removed.suffix(10)), step: "delete \(key)")
        }
        #expect(harness.index.keyCount == 0)
        let image = harness.image
        for main in 0..<image.bucketCount {
            #expect(image.words(main) == Array(repeating: 0, count: 8), "bucket \(main)")
        }
        var free = 0
        var number = image.freeHead
        while number != 0, free <= Int(overflowCount) {
            free += 1
            number = image.words(Self.overflowFlag | number)[7]
        }
        #expect(free == Int(overflowCount) - 1, "every overflow bucket free")
        for key in keys {
            try harness.put(key)
            try harness.check(step: "put \(key) again")
        }
        #expect(harness.index.overflowCount == overflowCount, "the refill reuses the freed buckets")
    }

    /// Explicit splits across the power-of-two boundaries (16 → 32 → 64 → 128 buckets), where
    /// the linear-hashing level changes.
    @Test func splitsAcrossLevels() throws {
        var random = SeededGenerator.make("hash index splits")
        var harness = Harness(hashOf: Shape.random.hash(seed: random.next()))
        for key in 0..<60 { try harness.put(key) }
        try harness.check(step: "60 puts")
        for round in 0..<120 {
            try harness.split()
            try harness.check(step: "split \(round) to \(harness.index.bucketCount) buckets")
        }
        #expect(harness.index.bucketCount == 16 + 120)
        // Growth is a no-op below the load, and puts and deletes still work at the new size.
        try harness.grow()
        #expect(harness.index.bucketCount == 136)
        for key in 0..<60 where key % 3 == 0 { try harness.delete(key) }
        for key in 60..<90 { try harness.put(key) }
        try harness.check(removed: (0..<60).filter { $0 % 3 == 0 }, step: "deletes and puts after the splits")
    }

    /// The exact shape after removals from one chain: the chain's last slot fills the hole, and
    /// an overflow bucket that empties is unlinked and freed.
    @Test func removalRefillsTheHoleFromTheChainsEnd() throws {
        // Low 24 bits equal: all in main bucket 0x5A5A5A mod 16 = 10; tags differ.
        var harness = Harness(hashOf: { UInt64($0 + 1) << 48 | 0x5A_5A5A })
        for key in 0..<20 { try harness.put(key) }
        try harness.check(step: "20 puts")
        #expect(try harness.index.chain(startingAt: 10).map(\.rawValue).count == 3)
        func occupied(_ id: UInt64) -> Int { (try? harness.index.bucket(BucketID(rawValue: id)))?.occupied ?? -1 }
        var ids = try harness.index.chain(startingAt: 10).map(\.rawValue)
        #expect(ids.map(occupied) == [7, 7, 6])
        // Key 3 sits in slot 3 of the main bucket; key 19, the chain's last, takes its place.
        try harness.delete(3)
        ids = try harness.index.chain(startingAt: 10).map(\.rawValue)
        #expect(ids.map(occupied) == [7, 7, 5])
        #expect(try Bucket.address(ofSlot: harness.index.bucket(.main(10)).slot(3)) == harness.store.live[19])
        for key in [0, 1, 2, 4, 5] { try harness.delete(key) }
        try harness.check(removed: [0, 1, 2, 3, 4, 5], step: "6 deletes")
        ids = try harness.index.chain(startingAt: 10).map(\.rawValue)
        #expect(ids.map(occupied) == [7, 7], "the emptied overflow bucket is unlinked")
        #expect(harness.index.freeHead != 0, "and freed")
    }

    // MARK: The checker itself

    /// The checker finds each kind of damage it claims to, so a clean run means something.
    @Test func checkerCatchesBrokenIndexes() throws {
        var harness = Harness(hashOf: { UInt64($0 + 1) << 48 | 0x5A_5A5A })
        for key in 0..<30 { try harness.put(key) }
        for key in 0..<9 { try harness.delete(key) }
        try harness.check(step: "setup")
        let good = harness.image
        let live = harness.store.liveHashes
        #expect(good.freeHead != 0, "the setup has a free list")
        let chain = try harness.index.chain(startingAt: 10).map(\.rawValue)
        #expect(chain.count >= 3)
        let firstOverflow = chain[1]

        var damaged: [(String, HashIndexImage, [UInt64: UInt64])] = []
        var image = good
        image.buckets[10]![2] = 0
        damaged.append(("a hole in a full bucket", image, live))
        image = good
        image.buckets[firstOverflow]![7] = firstOverflow & ~Self.overflowFlag
        damaged.append(("a chain that loops", image, live))
        image = good
        image.keyCount += 1
        damaged.append(("key count off by one", image, live))
        image = good
        image.buckets[3] = image.buckets[10]
        image.buckets[3]![7] = 0
        damaged.append(("slots in the wrong main bucket", image, live))
        image = good
        image.freeHead = firstOverflow & ~Self.overflowFlag
        damaged.append(("the free list into a chain", image, live))
        image = good
        image.overflowCount += 1
        damaged.append(("a leaked overflow bucket", image, live))
        image = good
        image.buckets[10]![7] |= 1 << 60
        damaged.append(("reserved bits", image, live))
        image = good
        image.buckets[10]![0] ^= 1 << 50
        damaged.append(("a wrong tag", image, live))
        var fewer = live
        fewer.removeValue(forKey: fewer.keys.first!)
        damaged.append(("a slot for a dead record", good, fewer))
        var more = live
        more[1 << 40] = 0x5A_5A5A
        damaged.append(("a live record missing", good, more))
        image = good
        image.bucketCount = 1
        damaged.append(("above the load", image, live))

        for (what, image, live) in damaged {
            #expect(throws: InvariantViolation.self, "\(what)") {
                try checkHashIndexInvariants(image, live: live, maxLoad: 0.75)
            }
        }
    }
}
