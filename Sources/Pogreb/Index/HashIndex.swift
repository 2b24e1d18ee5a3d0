/// The hash index: linear hashing over 64-byte buckets, with overflow chains.
///
/// The buckets as of the last checkpoint live in two files, read through read-only mappings
/// (``mainRegion`` and ``overflowRegion``). Every bucket changed since then lives in ``dirty``,
/// in memory; a checkpoint writes those through the journal and empties it. So the files are
/// only ever written at a checkpoint, and a crash between checkpoints leaves them untouched.
///
/// Linear hashing: with `bucketCount` buckets and `level = ⌊log2(bucketCount)⌋`, a hash `h` goes
/// to bucket `h mod 2^(level+1)` if that is below `bucketCount`, else `h mod 2^level`. Growing by
/// one bucket splits exactly one old bucket, so there is never a stop-the-world rehash.
///
/// This is a value type held inside the database's state lock; it does no locking of its own.
@safe struct HashIndex: @unchecked Sendable {
    // @unchecked Sendable: besides values, it holds the base addresses of its two mappings as
    // raw pointers (not Sendable) so that a bucket read touches no reference count. They are
    // only read under the database's state lock, and each is set together with the
    // MappedRegion that owns the mapping and keeps it alive, so no thread sees a stale one.
    static let initialBucketCount: UInt64 = 16
    /// Split a bucket when keys exceed this fraction of the main slots.
    static let maxLoad = 0.75

    var mainRegion: MappedRegion? { didSet { unsafe mainBase = mainRegion?.base } }
    var overflowRegion: MappedRegion? { didSet { unsafe overflowBase = overflowRegion?.base } }
    /// The regions' addresses as plain values, so a bucket read touches no reference count.
    private var mainBase: UnsafeRawPointer?
    private var overflowBase: UnsafeRawPointer?
    /// Buckets visible in the mappings (the rest read as empty).
    var mappedMainCount: UInt64 = 0
    var mappedOverflowCount: UInt64 = 0

    var bucketCount: UInt64
    /// Overflow buckets are numbered from 1; this is the next never-used number.
    var overflowCount: UInt64
    /// Head of the list of freed overflow buckets, linked through their `next` field; 0 = empty.
    var freeHead: UInt64
    var keyCount: UInt64

    /// Buckets changed since the last checkpoint, by id (see ``Checkpoint``).
    var dirty = DirtyBuckets()
    /// The database directory as shown in messages ("" when unknown): a damaged bucket is
    /// reported under it.
    var directory = ""

    /// What the changes since ``beginUndo()`` replaced, while a batch is applied; nil otherwise.
    /// Set only by the change functions (HashIndex+Changes.swift).
    var undo: UndoLog?

    /// The state a batch started from: the counts, and each changed bucket's dirty copy before
    /// its first change (nil when it had none, so the mapped bucket was current).
    struct UndoLog {
        var bucketCount: UInt64
        var overflowCount: UInt64
        var freeHead: UInt64
        var keyCount: UInt64
        var buckets: [BucketID: Bucket?] = [:]
    }

    init(bucketCount: UInt64, overflowCount: UInt64, freeHead: UInt64, keyCount: UInt64) {
        self.bucketCount = bucketCount
        self.overflowCount = overflowCount
        self.freeHead = freeHead
        self.keyCount = keyCount
    }

    @inline(__always)
    func mainBucketNumber(forHash hash: UInt64) -> UInt64 {
        let level = UInt64(63 - bucketCount.leadingZeroBitCount)
        let high = hash & ((1 << (level + 1)) &- 1)
        return high < bucketCount ? high : hash & ((1 << level) &- 1)
    }

    /// The current image of bucket `id`: the dirty copy, or the mapped one, or empty.
    /// - Throws: `corrupted`, naming the file and the bucket's offset, when the mapped bucket
    ///   fails its checksum (docs/FORMAT.md, section 5). The check is one CRC32C call over the
    ///   cache line the read loads anyway.
    @inline(__always)
    func bucket(_ id: BucketID) throws(PogrebError) -> Bucket {
        try unsafe withUnsafePointer(to: self) { (index) throws(PogrebError) -> Bucket in
            try unsafe HashIndex.bucket(id, in: index)
        }
    }

    /// ``bucket(_:)`` of the index at `index`, read in place: the read path's form (a method
    /// call on a copy would retain the index's dictionary and regions on every lookup).
    @inline(__always)
    static func bucket(_ id: BucketID, in index: UnsafePointer<HashIndex>) throws(PogrebError) -> Bucket {
        if let changed = unsafe index.pointee.dirty.bucket(id) { return changed }
        let number = id.number
        let base = unsafe id.isOverflow ? index.pointee.overflowBase : index.pointee.mainBase
        let mapped = unsafe id.isOverflow ? index.pointee.mappedOverflowCount : index.pointee.mappedMainCount
        // `mapped` never exceeds what the region holds: both are set together at a checkpoint.
        guard number < mapped, let base = unsafe base else { return Bucket() }
        let offset = Int(id.fileOffset)
        var bucket = Bucket()
        for i in 0..<8 {
            bucket.words[i] = unsafe UInt64(
                littleEndian: base.loadUnaligned(fromByteOffset: offset + i * 8, as: UInt64.self))
        }
        let computed = unsafe CRC32C.bucketChecksum(base + offset, id: id)
        guard computed == bucket.storedChecksum else {
            throw unsafe damagedBucket(id, stored: bucket, computed: computed, directory: index.pointee.directory)
        }
        bucket.words[7] &= Bucket.nextMask
        return bucket
    }

    /// The error for a mapped bucket that fails its checksum.
    @inline(never)
    static func damagedBucket(_ id: BucketID, stored: Bucket, computed: UInt32, directory: String) -> PogrebError {
        PogrebError.corrupted(
            file: directory.isEmpty ? id.fileName : directory + "/" + id.fileName, offset: id.fileOffset,
            "\(id) fails its checksum (stored \(hex(stored.storedChecksum)), computed \(hex(computed))): "
                + "the index is damaged. A writable open rebuilds it from the log; `pogreb repair` does too"
        )
    }

    /// The stored image of bucket `id` without its checksum check, and whether the check passed
    /// (for the verifier, which reports a damaged bucket and goes on).
    func unverifiedBucket(_ id: BucketID) -> (bucket: Bucket, intact: Bool) {
        do throws(PogrebError) {
            return (try bucket(id), true)
        } catch {
            let base = unsafe id.isOverflow ? overflowBase : mainBase
            guard let base = unsafe base else { return (Bucket(), false) }
            var bucket = Bucket()
            for i in 0..<8 {
                bucket.words[i] = unsafe UInt64(
                    littleEndian: base.loadUnaligned(fromByteOffset: Int(id.fileOffset) + i * 8, as: UInt64.self))
            }
            bucket.words[7] &= Bucket.nextMask
            return (bucket, false)
        }
    }

    /// Where a slot sits: the bucket id and the slot number in it.
    struct Position {
        var id: BucketID
        var slot: Int
    }

    /// The probe loop, the only one: walks the chain of a hash's main bucket and yields, in
    /// order, the address and position of every slot whose 16-bit tag equals the key's, until an
    /// empty slot or the chain's end says there are no more.
    ///
    /// Every lookup goes through it: ``findPosition(hash:matches:)`` for the writer, the read path
    /// (`SharedState.withCurrentRecord`) and the prefetching of `get(many:)`. It is a cursor, not
    /// a function taking a closure, so the read path's loop body captures nothing: a closure that
    /// captured the shared state would retain the objects it holds on every lookup, a reference
    /// count two reader threads would fight over.
    /// - Complexity: one bucket read (a cache line) per bucket of the chain, usually one.
    struct Probe {
        private let tag: UInt16
        private let mainNumber: UInt64
        private var id: BucketID
        private var current: Bucket
        private var slot = 0
        private var hops: UInt64 = 0
        private var finished = false

        /// A probe of the index at `index`, which is read in place (never copied) and must not
        /// change while the probe is used.
        /// - Throws: `corrupted` when the main bucket fails its checksum.
        @inline(__always)
        init(in index: UnsafePointer<HashIndex>, hash: UInt64) throws(PogrebError) {
            tag = Bucket.tag(ofHash: hash)
            mainNumber = unsafe index.pointee.mainBucketNumber(forHash: hash)
            id = .main(mainNumber)
            current = try unsafe HashIndex.bucket(id, in: index)
        }

        /// The next slot whose tag matches, or nil when there is none.
        /// - Throws: `corrupted`, naming the file and offset, when the chain leaves the overflow
        ///   file or loops, or a bucket fails its checksum.
        @inline(__always)
        mutating func next(
            in index: UnsafePointer<HashIndex>
        ) throws(PogrebError) -> (address: UInt64, position: Position)? {
            while !finished {
                while slot < Bucket.slotCount {
                    let value = current.slot(slot)
                    let position = Position(id: id, slot: slot)
                    slot += 1
                    if value == 0 {
                        finished = true
                        return nil
                    }
                    if Bucket.tag(ofSlot: value) == tag { return (Bucket.address(ofSlot: value), position) }
                }
                let next = current.next
                if next == 0 { break }
                hops += 1
                let overflowCount = unsafe index.pointee.overflowCount
                guard hops < overflowCount, next < overflowCount else {
                    finished = true
                    throw PogrebError.corrupted(
                        file: id.fileName, offset: id.fileOffset + 56,
                        "the overflow chain of bucket \(mainNumber) is broken: \(id) points at overflow bucket "
                            + "\(next), past the \(overflowCount) buckets the index has or round a loop. "
                            + "Run `pogreb repair` to rebuild the index from the log"
                    )
                }
                id = .overflow(next)
                current = try unsafe HashIndex.bucket(id, in: index)
                slot = 0
            }
            finished = true
            return nil
        }
    }

    /// The slot whose tag matches and for which `matches(address)` holds, with its address.
    @inline(__always)
    func findPosition(
        hash: UInt64, matches: (UInt64) throws(PogrebError) -> Bool
    ) throws(PogrebError) -> (Position, UInt64)? {
        try unsafe withUnsafePointer(to: self) { (index) throws(PogrebError) -> (Position, UInt64)? in
            var probe = try unsafe Probe(in: index, hash: hash)
            while let (address, position) = try unsafe probe.next(in: index) {
                if try matches(address) { return (position, address) }
            }
            return nil
        }
    }

    /// The address for which `matches(address)` holds, or nil.
    @inline(__always)
    func find(hash: UInt64, matches: (UInt64) throws(PogrebError) -> Bool) throws(PogrebError) -> UInt64? {
        try findPosition(hash: hash, matches: matches)?.1
    }

    /// The address in the first slot whose tag matches in the index at `index` (read in place),
    /// without reading any record: where the key's record most likely is (for prefetching; nil
    /// on a damaged chain).
    @inline(__always)
    static func firstCandidate(forHash hash: UInt64, in index: UnsafePointer<HashIndex>) -> UInt64? {
        guard var probe = unsafe try? Probe(in: index, hash: hash) else { return nil }
        return unsafe (try? probe.next(in: index))??.address
    }

    /// The ids of the chain that starts at main bucket `number`, in order.
    func chain(startingAt number: UInt64) throws(PogrebError) -> [BucketID] {
        var ids = [BucketID.main(number)]
        var current = try bucket(.main(number))
        while current.next != 0 {
            guard current.next < overflowCount, UInt64(ids.count) <= overflowCount else {
                let last = ids[ids.count - 1]  // the bucket holding the bad pointer (ids is never empty)
                throw PogrebError.corrupted(
                    file: last.fileName, offset: last.fileOffset + 56,
                    "the index's overflow chain from bucket \(number) is broken (\(last) points at overflow bucket "
                        + "\(current.next) of \(overflowCount), or round a loop). Run `pogreb repair` to rebuild the "
                        + "index from the log")
            }
            let id = BucketID.overflow(current.next)
            ids.append(id)
            current = try bucket(id)
        }
        return ids
    }

    /// Every slot of the index, for iteration checks and the verifier.
    func forEachSlot(_ body: (UInt64) throws(PogrebError) -> Void) throws(PogrebError) {
        for number in 0..<bucketCount {
            for id in try chain(startingAt: number) {
                let current = try bucket(id)
                for i in 0..<Bucket.slotCount where current.slot(i) != 0 { try body(current.slot(i)) }
            }
        }
    }
}

extension HashIndex {
    /// Checks the whole index as a writable open finds it: every main bucket and every overflow
    /// bucket that a chain or the free list reaches passes its checksum; every link stays inside
    /// the overflow file; no overflow bucket is reached twice (no loop, no shared tail); and the
    /// chains hold exactly ``keyCount`` slots. Reads each bucket once, from the mappings, and
    /// allocates one bit per overflow bucket (the open has checked the file holds them all).
    /// - Throws: `corrupted`, naming the file and offset, at the first fault.
    func verifyAll() throws(PogrebError) {
        // One pointer to the index for the whole walk: ``bucket(_:)`` takes one per call, which
        // measured 400 instructions a bucket (callgrind, 1 M keys), most of them copying `self`.
        try unsafe withUnsafePointer(to: self) { (index) throws(PogrebError) in
            try unsafe HashIndex.verifyAll(in: index)
        }
    }

    /// ``verifyAll()`` of the index at `index`, read in place.
    private static func verifyAll(in index: UnsafePointer<HashIndex>) throws(PogrebError) {
        let overflowCount = unsafe index.pointee.overflowCount
        let directory = unsafe index.pointee.directory
        var seen = [UInt64](repeating: 0, count: Int((overflowCount + 63) / 64))
        /// Marks overflow bucket `number`, linked from `id` (in the chain of main bucket `chain`, or
        /// on the free list when nil), as reached.
        func reach(_ number: UInt64, from id: BucketID, chain: UInt64?) throws(PogrebError) {
            let word = Int(number / 64)
            let bit: UInt64 = 1 << (number % 64)
            guard number < overflowCount, seen[word] & bit == 0 else {
                let what =
                    chain.map { "the chain of bucket \($0)" }
                    ?? (id.number == 0 ? "the checkpoint's free-list head" : "the free list")
                throw PogrebError.corrupted(
                    file: directory.isEmpty ? id.fileName : directory + "/" + id.fileName,
                    offset: id.fileOffset + 56,
                    "\(what) links \(id) to overflow bucket \(number), "
                        + (number < overflowCount ? "which is reached twice" : "past the \(overflowCount) buckets"))
            }
            seen[word] |= bit
        }
        var slots: UInt64 = 0
        for number in unsafe 0..<index.pointee.bucketCount {
            var id = BucketID.main(number)
            while true {
                let current = try unsafe HashIndex.bucket(id, in: index)
                slots += UInt64(current.occupied)
                let next = current.next
                if next == 0 { break }
                try reach(next, from: id, chain: number)
                id = .overflow(next)
            }
        }
        let keyCount = unsafe index.pointee.keyCount
        guard slots == keyCount else {
            throw PogrebError.corrupted(
                file: directory.isEmpty ? DatabaseFiles.index : directory + "/" + DatabaseFiles.index, offset: 0,
                "the index holds \(slots) keys, its checkpoint counts \(keyCount)")
        }
        var free = unsafe index.pointee.freeHead
        var id = BucketID.overflow(0)
        while free != 0 {
            try reach(free, from: id, chain: nil)
            id = .overflow(free)
            free = try unsafe HashIndex.bucket(id, in: index).next
        }
    }

    /// Prefetches the main bucket of `hash` in the index at `index` (read in place) when it is
    /// read from the mapping.
    @inline(__always)
    static func prefetchBucket(forHash hash: UInt64, in index: UnsafePointer<HashIndex>) {
        let number = unsafe index.pointee.mainBucketNumber(forHash: hash)
        let mapped = unsafe index.pointee.mappedMainCount
        guard number < mapped, let base = unsafe index.pointee.mainBase else { return }
        unsafe MappedRegion.prefetch(
            base, count: Int(BucketID.fileOffset(ofNumber: mapped)), at: Int(BucketID.fileOffset(ofNumber: number)))
    }
}
