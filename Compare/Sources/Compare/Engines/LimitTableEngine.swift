import CPogrebLimitTable
import PogrebWorkload

/// The limit table (Sources/CPogrebLimitTable in the main package): an in-memory open-addressing hash table in C, one slot
/// read and one record read a lookup. It bounds what memory allows; it has no files, so its "load"
/// fills the table in memory and its read process builds the table again (untimed) before reading.
final class LimitTableEngine: Engine {
    static let name = "limit"
    static let onDisk = false
    let table: OpaquePointer

    init(_ table: OpaquePointer) { self.table = table }

    static func load<D: Dataset>(
        path: String, order: [UInt32], data: D.Type, whileOpen: (() -> Void)?
    ) throws(CompareError) -> Int64? {
        let engine = try build(order, data: data)
        let bytes = Int64(engine.memoryBytes)
        try engine.close()
        return bytes
    }

    static func build<D: Dataset>(_ order: [UInt32], data: D.Type) throws(CompareError) -> LimitTableEngine {
        // Each record takes 8 + key + value bytes, rounded up to 8.
        var recordBytes = 0
        for id in order { recordBytes += (8 + D.rawBytes(UInt64(id)) + 7) & ~7 }
        guard let table = limit_table_create(order.count, recordBytes) else {
            throw CompareError("limit table: out of memory for \(order.count) keys")
        }
        var key = [UInt8](repeating: 0, count: D.keySize)
        var value = [UInt8](repeating: 0, count: D.valueSize)
        for id in order {
            D.fillKey(UInt64(id), &key)
            D.fillValue(UInt64(id), &value)
            guard limit_table_put(table, key, UInt32(key.count), value, UInt32(value.count)) == 0 else {
                limit_table_destroy(table)
                throw CompareError("limit table: full")
            }
        }
        return LimitTableEngine(table)
    }

    static func openForReads<D: Dataset>(path: String, n: Int, data: D.Type) throws(CompareError) -> LimitTableEngine {
        try build(WorkloadData.loadOrder(n), data: data)
    }

    static let concurrentWrites = false

    static func openForWrites(path: String, n: Int) throws(CompareError) -> LimitTableEngine {
        throw CompareError("the limit table does not write from several threads")
    }

    var memoryBytes: Int { limit_table_memory(table) }

    func makeReader() throws(CompareError) -> LimitTableReader { LimitTableReader(table) }

    func close() throws(CompareError) { limit_table_destroy(table) }
}

final class LimitTableReader: Reader {
    let table: OpaquePointer
    var values = [UnsafeRawPointer?](repeating: nil, count: 64)
    var lengths = [UInt32](repeating: 0, count: 64)
    var keyBuffer = [UInt8]()

    init(_ table: OpaquePointer) { self.table = table }

    func lend(_ key: [UInt8], _ check: (UnsafeRawBufferPointer?) -> Int) throws(CompareError) -> Int {
        var length: UInt32 = 0
        guard let value = limit_table_get(table, key, UInt32(key.count), &length) else { return check(nil) }
        return check(UnsafeRawBufferPointer(start: value, count: Int(length)))
    }

    func get(_ key: [UInt8]) throws(CompareError) -> [UInt8]? {
        var length: UInt32 = 0
        guard let value = limit_table_get(table, key, UInt32(key.count), &length) else { return nil }
        return [UInt8](UnsafeRawBufferPointer(start: value, count: Int(length)))
    }

    /// The C batch of 16 with prefetch; keys must all have the workload's key size.
    func getMany(_ keys: [[UInt8]], _ check: (Int, UnsafeRawBufferPointer?) -> Void) throws(CompareError) -> Bool {
        let size = WorkloadData.keySize
        keyBuffer.removeAll(keepingCapacity: true)
        for key in keys {
            guard key.count == size else { throw CompareError("limit table batch: keys of \(size) bytes only") }
            keyBuffer.append(contentsOf: key)
        }
        if values.count < keys.count {
            values = [UnsafeRawPointer?](repeating: nil, count: keys.count)
            lengths = [UInt32](repeating: 0, count: keys.count)
        }
        values.withUnsafeMutableBufferPointer { values in
            lengths.withUnsafeMutableBufferPointer { lengths in
                limit_table_get_batch(
                    table, keyBuffer, UInt32(size), keys.count, values.baseAddress, lengths.baseAddress)
                for i in 0..<keys.count {
                    check(i, values[i].map { UnsafeRawBufferPointer(start: $0, count: Int(lengths[i])) })
                }
            }
        }
        return true
    }
}
