import CPogrebLimitTable
import PogrebWorkload

/// The limit table (Sources/CPogrebLimitTable) holding W1's data: the yardstick the bench sets
/// beside W1 and W2, as `compare` does. An in-memory hash table in C that does only what a point
/// lookup must (hash the key, read one slot, read one record), with no file, lock or checksum, so
/// the ratio of the engine's rate to its rate tells how close this machine comes to what its
/// memory allows.
final class LimitTable {
    private let table: OpaquePointer
    let n: Int
    /// Seconds its load took: keys 0..<N in W1's load order, version 0, in memory only.
    private(set) var loadSeconds = 0.0

    init(n: Int) throws(ToolError) {
        let recordSize = (8 + WorkloadData.keySize + WorkloadData.valueSize + 7) & ~7
        guard let table = limit_table_create(n, n * recordSize) else {
            throw ToolError(.io, "the limit table: not enough memory for \(n) keys")
        }
        self.table = table
        self.n = n
        let order = WorkloadData.loadOrder(n)
        var key = [UInt8](repeating: 0, count: WorkloadData.keySize)
        var value = [UInt8](repeating: 0, count: WorkloadData.valueSize)
        let start = now()
        for id in order {
            WorkloadData.fillKey(UInt64(id), &key)
            WorkloadData.fillValue(UInt64(id), version: 0, &value)
            guard limit_table_put(table, key, UInt32(key.count), value, UInt32(value.count)) == 0 else {
                throw ToolError(.io, "the limit table is full")  // cannot happen: sized for n records
            }
        }
        loadSeconds = now() - start
    }

    deinit { limit_table_destroy(table) }

    /// Seconds for N lookups of W2's one-thread stream (seed 7), each value checked. With `copy`,
    /// each value is copied into a new array, as `get` returns it; without, it is read in place,
    /// as `withValue` lends it.
    /// - Throws: `corrupted` when a value is missing or wrong (a yardstick with a wrong answer is
    ///   not one).
    func lookups(copy: Bool) throws(ToolError) -> Double {
        var stream = RandomStream(seed: WorkloadData.lookupSeed(thread: 0, of: 1))
        var key = [UInt8](repeating: 0, count: WorkloadData.keySize)
        var wrong = 0
        let space = UInt64(n)
        let start = now()
        for _ in 0..<n {
            let id = stream.next() % space
            WorkloadData.fillKey(id, &key)
            var length: UInt32 = 0
            guard let value = limit_table_get(table, key, UInt32(key.count), &length) else {
                wrong += 1
                continue
            }
            let bytes = UnsafeRawBufferPointer(start: value, count: Int(length))
            let right =
                copy
                ? [UInt8](bytes).withUnsafeBytes { WorkloadData.matches($0, id, version: 0) }
                : WorkloadData.matches(bytes, id, version: 0)
            if !right { wrong += 1 }
        }
        let seconds = now() - start
        guard wrong == 0 else {
            throw ToolError(.corrupted, "the limit table returned \(wrong) missing or wrong values of \(n)")
        }
        return seconds
    }
}
