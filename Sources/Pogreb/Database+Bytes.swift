/// Keys and values of the types people have: any sequence of bytes (contiguous storage is lent
/// without a copy, anything else is gathered into an array once) and `String` (its UTF-8 bytes).
extension Database {
    /// Lends the bytes of `bytes`, without a copy when it has contiguous storage.
    @inline(__always)
    static func withBytes<S: Sequence<UInt8>, R>(
        _ bytes: S, _ body: (UnsafeRawBufferPointer) throws(PogrebError) -> R
    ) throws(PogrebError) -> R {
        let lent: Result<R, PogrebError>? = bytes.withContiguousStorageIfAvailable { buffer in
            do throws(PogrebError) { return .success(try unsafe body(UnsafeRawBufferPointer(buffer))) } catch { return .failure(error) }
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
        try unsafe Database.withBytes(key) { (k) throws(PogrebError) -> Bool in
            try unsafe withValue(rawKey: k) { value in unsafe value != nil }
        }
    }

    /// Lends the stored bytes of the value of `key` (any byte sequence) to `body`, without
    /// copying, or `nil` when absent; the rules of ``withValue(forKey:_:)-([UInt8],_)`` apply.
    public func withValue<R>(forKey key: some Sequence<UInt8>, _ body: (UnsafeRawBufferPointer?) throws -> R) throws -> R {
        let lent = try key.withContiguousStorageIfAvailable { k in
            try unsafe withValueRethrowing(rawKey: UnsafeRawBufferPointer(k), body)
        }
        if let lent { return lent }
        return try unsafe Array(key).withUnsafeBytes { k in try unsafe withValueRethrowing(rawKey: k, body) }
    }

    /// Lends the stored bytes of the value of the UTF-8 key `key` to `body`, or `nil` when absent.
    public func withValue<R>(forKey key: String, _ body: (UnsafeRawBufferPointer?) throws -> R) throws -> R {
        try unsafe withValue(forKey: key.utf8, body)
    }

    /// Stores `value` for `key`; both any byte sequences.
    public func put(_ key: some Sequence<UInt8>, _ value: some Sequence<UInt8>) throws(PogrebError) {
        try unsafe Database.withBytes(key) { (k) throws(PogrebError) in
            try unsafe Database.withBytes(value) { (v) throws(PogrebError) in
                _ = try unsafe apply([.put(key: k, value: v)], atomic: false)
            }
        }
    }

    /// Removes `key` (any byte sequence). - Returns: whether it was present.
    @discardableResult
    public func delete(_ key: some Sequence<UInt8>) throws(PogrebError) -> Bool {
        try unsafe Database.withBytes(key) { (k) throws(PogrebError) -> Bool in
            try unsafe apply([.delete(key: k)], atomic: false).first ?? false
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
}
