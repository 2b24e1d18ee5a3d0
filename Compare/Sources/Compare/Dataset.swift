import PogrebWorkload

/// The keys and values a database is loaded with: key `i` and its value, as docs/WORKLOADS.md
/// defines them. The engines and the loops are generic over it, so each is specialized per data.
protocol Dataset {
    /// The length of a key buffer before its first fill (the longest key: W9's fill shortens it).
    static var keySize: Int { get }
    /// The length of a value buffer before its first fill (the longest value).
    static var valueSize: Int { get }
    /// Writes key `i` into `key`, changing its count (never reallocating below the initial size).
    static func fillKey(_ i: UInt64, _ key: inout [UInt8])
    /// Writes the value key `i` is loaded with.
    static func fillValue(_ i: UInt64, _ value: inout [UInt8])
    /// Whether `bytes` is the value key `i` was loaded with.
    static func matches(_ bytes: UnsafeRawBufferPointer, _ i: UInt64) -> Bool
    /// The raw bytes of key `i` and its value.
    static func rawBytes(_ i: UInt64) -> Int
}

extension Dataset {
    /// The raw bytes of keys `0..<n` and their values.
    static func rawBytes(count n: Int) -> Int64 {
        var total: Int64 = 0
        for i in 0..<UInt64(n) { total += Int64(rawBytes(i)) }
        return total
    }
}

/// W1–W8: 16-byte keys, 128-byte values at version 0.
enum FixedData: Dataset {
    static var keySize: Int { WorkloadData.keySize }
    static var valueSize: Int { WorkloadData.valueSize }
    @inline(__always)
    static func fillKey(_ i: UInt64, _ key: inout [UInt8]) { WorkloadData.fillKey(i, &key) }
    @inline(__always)
    static func fillValue(_ i: UInt64, _ value: inout [UInt8]) { WorkloadData.fillValue(i, version: 0, &value) }
    @inline(__always)
    static func matches(_ bytes: UnsafeRawBufferPointer, _ i: UInt64) -> Bool {
        WorkloadData.matches(bytes, i, version: 0)
    }
    static func rawBytes(_ i: UInt64) -> Int { WorkloadData.rawSize }
}

/// The YCSB records: W1's 16-byte keys, 1 KiB values at version 0 (``YCSBData``).
enum YCSBRecords: Dataset {
    static var keySize: Int { WorkloadData.keySize }
    static var valueSize: Int { YCSBData.valueSize }
    static func fillKey(_ i: UInt64, _ key: inout [UInt8]) { WorkloadData.fillKey(i, &key) }
    static func fillValue(_ i: UInt64, _ value: inout [UInt8]) { YCSBData.fillValue(i, version: 0, &value) }
    static func matches(_ bytes: UnsafeRawBufferPointer, _ i: UInt64) -> Bool { YCSBData.matches(bytes, i) }
    static func rawBytes(_ i: UInt64) -> Int { WorkloadData.keySize + YCSBData.valueSize }
}

/// W9 ("pogreb-bench"): keys of 16–64 printable ASCII bytes and values of 128–512 bytes, lengths
/// uniform, the bytes of ``W9Data`` (the same as `pogreb bench`'s W9), deterministic from the key id.
enum VariableData: Dataset {
    static let keySize = 64
    static let valueSize = 512
    @inline(__always)
    static func fillKey(_ i: UInt64, _ key: inout [UInt8]) {
        resize(&key, to: W9Data.keyLength(i))
        W9Data.fillKey(i, &key)
    }
    @inline(__always)
    static func fillValue(_ i: UInt64, _ value: inout [UInt8]) {
        resize(&value, to: W9Data.valueLength(i))
        W9Data.fillValue(i, &value)
    }
    @inline(__always)
    static func matches(_ bytes: UnsafeRawBufferPointer, _ i: UInt64) -> Bool { W9Data.matches(bytes, i) }
    static func rawBytes(_ i: UInt64) -> Int { W9Data.keyLength(i) + W9Data.valueLength(i) }

    /// Sets `buffer`'s count in place, keeping its storage (W9Data's fill would allocate a new array
    /// whenever the length changes: an allocation a lookup that no engine needs).
    @inline(__always)
    static func resize(_ buffer: inout [UInt8], to length: Int) {
        if buffer.count > length {
            buffer.removeLast(buffer.count - length)
        } else if buffer.count < length {
            buffer.append(contentsOf: repeatElement(0, count: length - buffer.count))
        }
    }
}
