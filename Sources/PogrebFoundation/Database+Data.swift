public import Pogreb

#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// `Data` keys and values.
///
/// `Data` keeps its bytes contiguous, so a `Data` key is lent to the engine without a copy (the
/// byte-sequence fast path of `Pogreb`); a value comes back as a new `Data` (one copy out of the
/// log, as `Database.get(_:)` of `[UInt8]` makes a new array), or is lent without a copy
/// by `withValue(forKey:_:)`.
///
/// This module is the only part of the package that imports Foundation (FoundationEssentials
/// where the toolchain has it): a program that imports `Pogreb` alone links no Foundation.
extension Database {
    /// The value stored for `key`, as a new `Data`, or `nil` when the key is absent.
    ///
    /// The same lookup as `Database.get(_:)` of `[UInt8]`: one index probe and one read of
    /// the record, whose checksum is checked; the value is copied once into the new `Data`.
    /// - Throws: `corrupted` when the record fails its checks, `closed` after the database was
    ///   closed.
    public func get(_ key: Data) throws(PogrebError) -> Data? {
        try lookup(key) { bytes in bytes.map { Data($0) } }
    }

    /// The value stored for the UTF-8 bytes of `key`, as a new `Data`, or `nil` when absent.
    public func data(forKey key: String) throws(PogrebError) -> Data? {
        try lookup(key.utf8) { bytes in bytes.map { Data($0) } }
    }

    /// Whether `key` is present; the record's checksum is checked as `get` checks it.
    public func contains(_ key: Data) throws(PogrebError) -> Bool {
        try containsBytes(key)
    }

    /// Stores `value` for `key`, replacing any earlier value.
    ///
    /// Durable as the `[UInt8]` put is: after the next `Database.sync()`, or before
    /// returning under `Options.SyncPolicy.everyWrite`.
    /// - Throws: `keyTooLarge`/`valueTooLarge` before anything is written; `readOnly`, `closed`,
    ///   `io`, `previousIOFailure`.
    public func put(_ key: Data, _ value: Data) throws(PogrebError) {
        try putBytes(key, value)
    }

    /// Stores `value` for the UTF-8 bytes of `key`, replacing any earlier value.
    public func put(_ key: String, _ value: Data) throws(PogrebError) {
        try putBytes(key.utf8, value)
    }

    /// Removes `key`.
    /// - Returns: whether the key was present. Nothing is written when it was not.
    @discardableResult
    public func delete(_ key: Data) throws(PogrebError) -> Bool {
        try deleteBytes(key)
    }

    /// Lends the stored bytes of `key`'s value to `body`, without copying, or `nil` when absent.
    ///
    /// The rules of the `[UInt8]` `Database.withValue(forKey:_:)` apply: the
    /// buffer is valid only while `body` runs and must not escape it; its bytes cannot change
    /// during that time; `body` must not call this database. Make a `Data(buffer)` to keep them.
    public func withValue<R>(forKey key: Data, _ body: (UnsafeRawBufferPointer?) throws -> R) throws -> R {
        try withValueBytes(key, body)
    }

    // The generic helpers below give the arguments a generic type, so that the calls inside
    // them pick `Pogreb`'s byte-sequence overloads and not the `Data` ones above.

    private func lookup<S: Sequence<UInt8>, R>(
        _ key: S, _ body: (UnsafeRawBufferPointer?) -> R
    ) throws(PogrebError) -> R {
        try Database.withBytes(key) { (raw) throws(PogrebError) -> R in try withValue(rawKey: raw, body) }
    }

    private func containsBytes<S: Sequence<UInt8>>(_ key: S) throws(PogrebError) -> Bool {
        try contains(key)
    }

    private func putBytes<K: Sequence<UInt8>, V: Sequence<UInt8>>(_ key: K, _ value: V) throws(PogrebError) {
        try put(key, value)
    }

    private func deleteBytes<S: Sequence<UInt8>>(_ key: S) throws(PogrebError) -> Bool {
        try delete(key)
    }

    private func withValueBytes<S: Sequence<UInt8>, R>(
        _ key: S, _ body: (UnsafeRawBufferPointer?) throws -> R
    ) throws -> R {
        try withValue(forKey: key, body)
    }
}
