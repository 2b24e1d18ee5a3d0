/// Puts and deletes applied together by ``Database/apply(_:)``: all or none, visible at once.
public struct WriteBatch: Sendable {
    enum Operation: Sendable {
        case put(key: [UInt8], value: [UInt8])
        case delete(key: [UInt8])
    }

    var operations: [Operation] = []

    /// An empty batch.
    public init() {}

    /// Adds a put of `value` for `key`.
    public mutating func put(_ key: [UInt8], _ value: [UInt8]) { operations.append(.put(key: key, value: value)) }

    /// Adds a delete of `key`.
    public mutating func delete(_ key: [UInt8]) { operations.append(.delete(key: key)) }

    /// Adds a put of `value` for `key`, both any byte sequences (as ``Database/put(_:_:)-([UInt8],[UInt8])``).
    public mutating func put(_ key: some Sequence<UInt8>, _ value: some Sequence<UInt8>) {
        put(Array(key), Array(value))
    }

    /// Adds a put of the UTF-8 bytes of `value` for the UTF-8 bytes of `key`.
    public mutating func put(_ key: String, _ value: String) { put(Array(key.utf8), Array(value.utf8)) }

    /// Adds a put of `value` for the UTF-8 bytes of `key`.
    public mutating func put(_ key: String, _ value: [UInt8]) { put(Array(key.utf8), value) }

    /// Adds a delete of `key`, any byte sequence.
    public mutating func delete(_ key: some Sequence<UInt8>) { delete(Array(key)) }

    /// Adds a delete of the UTF-8 bytes of `key`.
    public mutating func delete(_ key: String) { delete(Array(key.utf8)) }

    /// The number of operations.
    public var count: Int { operations.count }

    /// Whether the batch holds no operation.
    public var isEmpty: Bool { operations.isEmpty }

    /// Lends the operations as raw buffers, valid during `body`. Copies every key and value
    /// once into one contiguous buffer, so that any number of operations is lent by one closure.
    func withRawOperations<R>(_ body: ([RawOperation]) throws(PogrebError) -> R) throws(PogrebError) -> R {
        var storage: [UInt8] = []
        var ranges: [(key: Range<Int>, value: Range<Int>?)] = []
        ranges.reserveCapacity(operations.count)
        for operation in operations {
            switch operation {
            case .put(let key, let value):
                let k = storage.count..<(storage.count + key.count)
                storage.append(contentsOf: key)
                let v = storage.count..<(storage.count + value.count)
                storage.append(contentsOf: value)
                ranges.append((k, v))
            case .delete(let key):
                let k = storage.count..<(storage.count + key.count)
                storage.append(contentsOf: key)
                ranges.append((k, nil))
            }
        }
        return try unsafe storage.withBytes { (all) throws(PogrebError) -> R in
            let raw = unsafe ranges.map { entry -> RawOperation in
                let key = unsafe UnsafeRawBufferPointer(rebasing: all[entry.key])
                if let value = entry.value {
                    return unsafe .put(key: key, value: UnsafeRawBufferPointer(rebasing: all[value]))
                }
                return unsafe .delete(key: key)
            }
            return unsafe try body(raw)
        }
    }
}

/// One write, with its bytes lent by the caller for the duration of the call.
@unsafe enum RawOperation {
    case put(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)
    case delete(key: UnsafeRawBufferPointer)

    var key: UnsafeRawBufferPointer {
        switch unsafe self {
        case .put(let key, _): return unsafe key
        case .delete(let key): return unsafe key
        }
    }
}
