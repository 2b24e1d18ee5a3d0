/// The buckets changed since the last checkpoint, by id: a hash table with open addressing and
/// linear probing, keyed by the id's raw value.
///
/// Every write looks up each bucket it reads here before the mapping, and so does every read
/// while changes are pending; with `Dictionary` the lookups (SipHash of the key, probing through
/// generic code) took about a sixth of a bulk load's time (`perf record` of a W1 load of
/// 2 000 000 keys: 16 % in the dictionary's find, hashing, insert and resize). Here a lookup is
/// one multiplication and, in the common case, one or two cache lines.
///
/// A value type with copy-on-write storage, as `Dictionary` is. A lookup reads the storage
/// through two plain pointers kept in the value, so it touches no reference count (the read path
/// runs it from several threads at once).
@safe struct DirtyBuckets: @unchecked Sendable {
    // @unchecked Sendable: the pointers point into `storage`, which this value owns (a copy
    // shares it until either side changes, and a change first copies it when it is shared); the
    // engine changes the table only under its exclusive state lock and reads it under the shared lock.
    private var storage: Storage
    private var keys: UnsafeMutablePointer<UInt64>
    private var values: UnsafeMutablePointer<Bucket>
    /// The capacity minus one (the capacity is a power of two).
    private var mask: Int
    /// The number of buckets held.
    private(set) var count: Int

    /// The key of an empty cell: the raw value of overflow bucket 2^63 - 1, which the 32-bit
    /// overflow links of the format can never name.
    private static let emptyKey = UInt64.max

    /// An empty table; it shares one empty storage with every other empty table, so making one
    /// allocates nothing (the writer makes one for every put, as a placeholder index).
    init() {
        self.init(storage: Storage.empty)
    }

    private init(storage: Storage) {
        self.storage = storage
        unsafe keys = storage.keys
        unsafe values = storage.values
        mask = storage.capacity - 1
        count = storage.count
    }

    var isEmpty: Bool { count == 0 }

    /// The cell a key's search starts at (Fibonacci hashing: the top bits of the key times 2^64/φ).
    @inline(__always)
    private func home(of raw: UInt64) -> Int {
        Int(truncatingIfNeeded: (raw &* 0x9E37_79B9_7F4A_7C15) >> 32) & mask
    }

    /// The changed bucket `id`, or nil. Reads only plain memory: no reference count, no allocation.
    @inline(__always)
    func bucket(_ id: BucketID) -> Bucket? {
        if count == 0 { return nil }
        var i = home(of: id.rawValue)
        while true {
            let key = unsafe keys[i]
            if key == id.rawValue { return unsafe values[i] }
            if key == Self.emptyKey { return nil }
            i = (i + 1) & mask
        }
    }

    subscript(id: BucketID) -> Bucket? {
        @inline(__always) get { bucket(id) }
        set {
            if let newValue { insert(id, newValue) } else { remove(id) }
        }
    }

    /// Adds or replaces bucket `id`.
    mutating func insert(_ id: BucketID, _ bucket: Bucket) {
        precondition(id.rawValue != Self.emptyKey, "overflow bucket 2^63 - 1 cannot exist")
        // Grows at three quarters full: a checkpoint's worth of changed buckets (262 144 by
        // default) then takes at most 37.7 MiB of cells (72 B each), not twice that.
        makeUnique(growing: (count + 1) * 4 > (mask + 1) * 3)
        var i = home(of: id.rawValue)
        while true {
            let key = unsafe keys[i]
            if key == id.rawValue {
                unsafe values[i] = bucket
                return
            }
            if key == Self.emptyKey {
                unsafe keys[i] = id.rawValue
                unsafe (values + i).initialize(to: bucket)
                count += 1
                storage.count = count
                return
            }
            i = (i + 1) & mask
        }
    }

    /// Removes bucket `id` if present, shifting later cells of its run back so that no search
    /// stops early (deletion without tombstones for linear probing).
    mutating func remove(_ id: BucketID) {
        guard bucket(id) != nil else { return }
        makeUnique(growing: false)
        var i = home(of: id.rawValue)
        while unsafe keys[i] != id.rawValue { i = (i + 1) & mask }
        var hole = i
        var j = i
        while true {
            j = (j + 1) & mask
            let key = unsafe keys[j]
            if key == Self.emptyKey { break }
            // The key at j may move to the hole when its home does not lie cyclically in (hole, j].
            let h = home(of: key)
            let stays = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j)
            if !stays {
                unsafe keys[hole] = key
                unsafe (values + hole).initialize(to: values[j])
                hole = j
            }
        }
        unsafe keys[hole] = Self.emptyKey
        count -= 1
        storage.count = count
    }

    /// Removes every bucket (and lets the storage go).
    mutating func removeAll() { self = DirtyBuckets() }

    /// Every bucket held, by id in ascending order (the order a checkpoint writes them in).
    func sortedByID() -> [(id: BucketID, bucket: Bucket)] {
        var entries: [(id: BucketID, bucket: Bucket)] = []
        entries.reserveCapacity(count)
        var i = 0
        while i <= mask {
            let key = unsafe keys[i]
            if key != Self.emptyKey { unsafe entries.append((BucketID(rawValue: key), values[i])) }
            i += 1
        }
        entries.sort { $0.id < $1.id }
        return entries
    }

    /// Makes the storage this value's own (copying it when shared), twice as large when `growing`.
    private mutating func makeUnique(growing: Bool) {
        if !growing && isKnownUniquelyReferenced(&storage) { return }
        let capacity = growing ? max(16, (mask + 1) * 2) : mask + 1
        let fresh = Storage(capacity: capacity)
        var i = 0
        let newMask = capacity - 1
        while i <= mask {
            let key = unsafe keys[i]
            if key != Self.emptyKey {
                var j = Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 32) & newMask
                while unsafe fresh.keys[j] != Self.emptyKey { j = (j + 1) & newMask }
                unsafe fresh.keys[j] = key
                unsafe (fresh.values + j).initialize(to: values[i])
            }
            i += 1
        }
        fresh.count = count
        self = DirtyBuckets(storage: fresh)
    }

    /// The cells, owned by one object so that copies of the table can share them.
    @safe private final class Storage: @unchecked Sendable {
        // @unchecked Sendable: only ``empty`` is ever shared between threads, and it is never
        // changed (a table changes its storage only when it holds the only reference to it, and
        // every table also refers to `empty` from the static). Any other storage belongs to the
        // tables that copy-on-write lets share it, under the engine's locks.
        /// The storage of every empty table: one empty cell.
        static let empty = Storage(capacity: 1)

        let capacity: Int
        let keys: UnsafeMutablePointer<UInt64>
        let values: UnsafeMutablePointer<Bucket>
        var count = 0

        init(capacity: Int) {
            self.capacity = capacity
            unsafe keys = .allocate(capacity: capacity)
            unsafe keys.initialize(repeating: DirtyBuckets.emptyKey, count: capacity)
            // Left uninitialized: a cell's value is initialized when its key is set, and `Bucket`
            // is a trivial type (plain words), so nothing needs deinitializing.
            unsafe values = .allocate(capacity: capacity)
        }

        deinit {
            unsafe keys.deallocate()
            unsafe values.deallocate()
        }
    }
}
