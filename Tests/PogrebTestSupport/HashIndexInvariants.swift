/// A snapshot of a hash index's buckets, in the on-disk layout of `Bucket` and the id scheme of
/// the checkpoint (a main bucket's id is its number; an overflow bucket's is `1 << 63 | number`).
///
/// The checker below reads nothing else of the engine: it knows the layout and the linear-hashing
/// rule on its own, so that it judges the index rather than repeating it.
package struct HashIndexImage: Sendable {
    package static let overflowFlag: UInt64 = 1 << 63
    package static let slotCount = 7
    package static let addressMask: UInt64 = (1 << 48) - 1

    package var bucketCount: UInt64
    /// The next never-used overflow number (overflow buckets are numbered from 1).
    package var overflowCount: UInt64
    package var freeHead: UInt64
    package var keyCount: UInt64
    /// The eight little-endian words of each bucket, by id; a missing id reads as empty.
    package var buckets: [UInt64: [UInt64]]

    package init(
        bucketCount: UInt64, overflowCount: UInt64, freeHead: UInt64, keyCount: UInt64, buckets: [UInt64: [UInt64]]
    ) {
        self.bucketCount = bucketCount
        self.overflowCount = overflowCount
        self.freeHead = freeHead
        self.keyCount = keyCount
        self.buckets = buckets
    }

    /// The words of bucket `id`: eight, zero when the id was never written.
    package func words(_ id: UInt64) -> [UInt64] {
        let stored = buckets[id] ?? []
        return stored.count == 8 ? stored : Array(repeating: 0, count: 8)
    }

    /// The main bucket of `hash` under linear hashing: with `level = ⌊log2(bucketCount)⌋`,
    /// `hash mod 2^(level+1)` if that is below `bucketCount`, else `hash mod 2^level`.
    package func mainBucket(ofHash hash: UInt64) -> UInt64 {
        var level: UInt64 = 0
        while level < 63, (UInt64(1) << (level + 1)) <= bucketCount { level += 1 }
        let high = hash & ((UInt64(1) << (level + 1)) &- 1)
        return high < bucketCount ? high : hash & ((UInt64(1) << level) &- 1)
    }
}

/// Checks what must hold of a hash index between operations, and throws ``InvariantViolation``
/// listing every problem found:
/// - every chain (a main bucket, then overflow buckets through `next`) is acyclic, at most
///   `overflowCount` long, its `next` numbers in `1..<overflowCount`, and no two chains share a
///   bucket;
/// - slots are packed along a chain: every bucket but the last is full, the last has its occupied
///   slots first, and no overflow bucket in a chain is empty;
/// - the free list (from `freeHead`, through `next`) is acyclic, within `1..<overflowCount`,
///   disjoint from every chain, and its buckets hold no slot; every overflow number below
///   `overflowCount` is in a chain or in the free list;
/// - the reserved top 16 bits of every `next` word are zero;
/// - `keyCount` equals the number of occupied slots;
/// - the slots hold exactly the addresses of `live` (address → the key's 64-bit hash), each once,
///   in the chain of the main bucket its hash maps to, tagged with the hash's top 16 bits;
/// - with `maxLoad`, `keyCount <= maxLoad * 7 * bucketCount` (after an insertion, which grows).
package func checkHashIndexInvariants(_ image: HashIndexImage, live: [UInt64: UInt64], maxLoad: Double? = nil) throws {
    var problems: [String] = []
    func note(_ problem: String) { if problems.count < 50 { problems.append(problem) } }
    let flag = HashIndexImage.overflowFlag
    let slotCount = HashIndexImage.slotCount
    guard image.bucketCount >= 1, image.overflowCount >= 1 else {
        throw InvariantViolation(problems: ["\(image.bucketCount) buckets, overflow count \(image.overflowCount)"])
    }

    // Chains.
    var owner: [UInt64: UInt64] = [:]  // overflow number → the main bucket whose chain holds it
    var seen: [UInt64: (bucket: UInt64, id: UInt64)] = [:]  // address → where its slot is
    var slots = 0
    for main in 0..<image.bucketCount {
        var ids = [main]
        var words = image.words(main)
        while true {
            let next = words[7] & HashIndexImage.addressMask
            if words[7] >> 48 != 0 { note("bucket \(describe(ids.last!)): reserved bits set in \(hexWord(words[7]))") }
            if next == 0 { break }
            guard next < image.overflowCount else {
                note("chain of \(main): next overflow bucket \(next) >= overflow count \(image.overflowCount)")
                break
            }
            if let other = owner[next] {
                note("chain of \(main): overflow bucket \(next) already in the chain of \(other) (a cycle or shared)")
                break
            }
            owner[next] = main
            ids.append(flag | next)
            guard UInt64(ids.count) <= image.overflowCount else {
                note("chain of \(main): longer than the overflow count \(image.overflowCount)")
                break
            }
            words = image.words(flag | next)
        }
        for (position, id) in ids.enumerated() {
            let words = image.words(id)
            let isLast = position == ids.count - 1
            var occupied = 0
            for i in 0..<slotCount {
                let slot = words[i]
                if slot == 0 { continue }
                if occupied != i { note("bucket \(describe(id)) (chain of \(main)): slot \(i) occupied after a hole") }
                occupied += 1
                slots += 1
                let address = slot & HashIndexImage.addressMask
                if let earlier = seen[address] {
                    note("address \(address) in bucket \(describe(id)) and in \(describe(earlier.id))")
                }
                seen[address] = (main, id)
                guard let hash = live[address] else {
                    note("bucket \(describe(id)) slot \(i): address \(address) is not a live record")
                    continue
                }
                if slot >> 48 != hash >> 48 { note("address \(address): tag \(slot >> 48), hash's tag \(hash >> 48)") }
                let expected = image.mainBucket(ofHash: hash)
                if expected != main {
                    note("address \(address) is in the chain of \(main), its hash maps to \(expected)")
                }
            }
            if !isLast, occupied != slotCount {
                note("bucket \(describe(id)) of chain \(main) has a next but \(occupied) slots")
            }
            if position > 0, occupied == 0 { note("overflow bucket \(describe(id)) of chain \(main) is empty") }
        }
    }

    // The free list.
    var free = Set<UInt64>()
    var number = image.freeHead
    while number != 0 {
        guard number < image.overflowCount else {
            note("free list: overflow bucket \(number) >= overflow count \(image.overflowCount)")
            break
        }
        if let main = owner[number] { note("free list: overflow bucket \(number) is in the chain of \(main)") }
        guard free.insert(number).inserted else {
            note("free list: a cycle at overflow bucket \(number)")
            break
        }
        let words = image.words(flag | number)
        if words[0..<slotCount].contains(where: { $0 != 0 }) {
            note("free list: overflow bucket \(number) holds slots")
        }
        if words[7] >> 48 != 0 { note("free list: overflow bucket \(number) has reserved bits set") }
        number = words[7] & HashIndexImage.addressMask
    }
    if image.overflowCount > 1 {
        for number in 1..<image.overflowCount where owner[number] == nil && !free.contains(number) {
            note("overflow bucket \(number) is in no chain and not in the free list (leaked)")
        }
    }

    // Counts and contents.
    if image.keyCount != UInt64(slots) { note("key count \(image.keyCount), \(slots) occupied slots") }
    for address in live.keys where seen[address] == nil {
        note("live address \(address) (hash \(hexWord(live[address]!))) is in no slot")
    }
    if let maxLoad, Double(image.keyCount) > maxLoad * Double(slotCount) * Double(image.bucketCount) {
        note("\(image.keyCount) keys in \(image.bucketCount) buckets: load above \(maxLoad)")
    }
    if !problems.isEmpty { throw InvariantViolation(problems: problems) }
}

private func describe(_ id: UInt64) -> String {
    id & HashIndexImage.overflowFlag != 0 ? "overflow \(id & ~HashIndexImage.overflowFlag)" : "main \(id)"
}

private func hexWord(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }
