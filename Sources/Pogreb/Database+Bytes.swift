/// Keys and values of the types people have: any sequence of bytes (contiguous storage is lent
/// without a copy, anything else is gathered into an array once) and `String` (its UTF-8 bytes).
extension Database {
    /// Lends the bytes of `bytes`, without a copy when it has contiguous storage.
    @inline(__always)
    package static func withBytes<S: Sequence<UInt8>, R>(
        _ bytes: S, _ body: (UnsafeRawBufferPointer) throws(PogrebError) -> R
    ) throws(PogrebError) -> R {
        let lent: Result<R, PogrebError>? = bytes.withContiguousStorageIfAvailable { buffer in
            do throws(PogrebError) { return .success(try unsafe body(UnsafeRawBufferPointer(buffer))) } catch {
                return .failure(error)
            }
        }
        if let lent { return try lent.get() }
        return try unsafe Array(bytes).withBytes(body)
    }

    /// The value of `key` (any byte sequence), as a new array, or `nil` when absent.
    public func get(_ key: some Sequence<UInt8>) throws(PogrebError) -> [UInt8]? {
        try unsafe Database.withBytes(key) { (k) throws(PogrebError) -> [UInt8]? in
            try unsafe withValue(rawKey: k) { value in unsafe value.map { unsafe RawBytes.copy($0) } }
        }
    }

    /// Whether `key` (any byte sequence) is present.
    public func contains(_ key: some Sequence<UInt8>) throws(PogrebError) -> Bool {
        try unsafe Database.withBytes(key) { (k) throws(PogrebError) -> Bool in try unsafe contains(rawKey: k) }
    }

    /// Lends the stored bytes of the value of `key` (any byte sequence) to `body`, without
    /// copying, or `nil` when absent; the rules of ``withValue(forKey:_:)-([UInt8],_)`` apply.
    @inlinable
    public func withValue<R>(
        forKey key: some Sequence<UInt8>, _ body: (UnsafeRawBufferPointer?) throws -> R
    ) throws -> R {
        let lent = try key.withContiguousStorageIfAvailable { k in
            try unsafe withValueRethrowing(rawKey: UnsafeRawBufferPointer(k), body)
        }
        if let lent { return lent }
        return try unsafe Array(key).withUnsafeBytes { k in try unsafe withValueRethrowing(rawKey: k, body) }
    }

    /// Lends the stored bytes of the value of the UTF-8 key `key` to `body`, or `nil` when absent.
    @inlinable
    public func withValue<R>(forKey key: String, _ body: (UnsafeRawBufferPointer?) throws -> R) throws -> R {
        try unsafe withValue(forKey: key.utf8, body)
    }

    /// Stores `value` for `key`; both any byte sequences.
    public func put(_ key: some Sequence<UInt8>, _ value: some Sequence<UInt8>) throws(PogrebError) {
        try unsafe Database.withBytes(key) { (k) throws(PogrebError) in
            try unsafe Database.withBytes(value) { (v) throws(PogrebError) in
                _ = try unsafe applyOne(.put(key: k, value: v))
            }
        }
    }

    /// Removes `key` (any byte sequence). - Returns: whether it was present.
    @discardableResult
    public func delete(_ key: some Sequence<UInt8>) throws(PogrebError) -> Bool {
        try unsafe Database.withBytes(key) { (k) throws(PogrebError) -> Bool in
            try unsafe applyOne(.delete(key: k))
        }
    }

    /// The value of the UTF-8 key `key`, as bytes, or `nil` when absent.
    public func get(_ key: String) throws(PogrebError) -> [UInt8]? { try get(key.utf8) }

    /// The value of the UTF-8 key `key`, decoded as UTF-8 (invalid sequences repaired), or `nil`.
    public func string(forKey key: String) throws(PogrebError) -> String? {
        try get(key.utf8).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Stores the UTF-8 bytes of `value` for the UTF-8 bytes of `key`.
    public func put(_ key: String, _ value: String) throws(PogrebError) { try put(key.utf8, value.utf8) }

    /// Stores `value` for the UTF-8 bytes of `key`.
    public func put(_ key: String, _ value: [UInt8]) throws(PogrebError) { try put(key.utf8, value) }

    /// Whether the UTF-8 key `key` is present.
    public func contains(_ key: String) throws(PogrebError) -> Bool { try contains(key.utf8) }

    /// Removes the UTF-8 key `key`. - Returns: whether it was present.
    @discardableResult
    public func delete(_ key: String) throws(PogrebError) -> Bool { try delete(key.utf8) }

    // MARK: Conditional writes and batched reads take the same types as `put` and `get`

    /// ``putIfAbsent(_:_:)-([UInt8],[UInt8])`` for any byte sequences.
    @discardableResult
    public func putIfAbsent(_ key: some Sequence<UInt8>, _ value: some Sequence<UInt8>) throws(PogrebError) -> Bool {
        try putIfAbsent(Array(key), Array(value))
    }

    /// ``putIfAbsent(_:_:)-([UInt8],[UInt8])`` for the UTF-8 bytes of `key` and `value`.
    @discardableResult
    public func putIfAbsent(_ key: String, _ value: String) throws(PogrebError) -> Bool {
        try putIfAbsent(Array(key.utf8), Array(value.utf8))
    }

    /// ``compareAndSwap(_:expected:new:)-([UInt8],_,_)`` for any byte sequences.
    @discardableResult
    public func compareAndSwap(
        _ key: some Sequence<UInt8>, expected: (some Sequence<UInt8>)?, new: (some Sequence<UInt8>)?
    ) throws(PogrebError) -> Bool {
        try compareAndSwap(Array(key), expected: expected.map { Array($0) }, new: new.map { Array($0) })
    }

    /// ``compareAndSwap(_:expected:new:)-([UInt8],_,_)`` for UTF-8 text.
    @discardableResult
    public func compareAndSwap(_ key: String, expected: String?, new: String?) throws(PogrebError) -> Bool {
        try compareAndSwap(Array(key.utf8), expected: expected.map { Array($0.utf8) }, new: new.map { Array($0.utf8) })
    }

    /// ``update(_:_:)-([UInt8],_)`` for any byte sequence as the key.
    @discardableResult
    public func update(_ key: some Sequence<UInt8>, _ transform: ([UInt8]?) throws -> [UInt8]?) throws -> [UInt8]? {
        try update(Array(key), transform)
    }

    /// ``update(_:_:)-([UInt8],_)`` for the UTF-8 bytes of `key`.
    @discardableResult
    public func update(_ key: String, _ transform: ([UInt8]?) throws -> [UInt8]?) throws -> [UInt8]? {
        try update(Array(key.utf8), transform)
    }

    /// ``get(many:)-([[UInt8]])`` for UTF-8 keys.
    public func get(many keys: [String]) throws(PogrebError) -> [[UInt8]?] {
        try get(many: keys.map { Array($0.utf8) })
    }
}
