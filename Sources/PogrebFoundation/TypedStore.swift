public import Pogreb

#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// A view of a `Database` whose keys and values are `Codable` types.
///
/// ```swift
/// struct User: Codable { var name: String; var visits: Int }
/// let users = db.typed(String.self, User.self)
/// try users.put("alice", User(name: "Alice", visits: 1))
/// try users.update("alice") { user in user.map { User(name: $0.name, visits: $0.visits + 1) } }
/// let alice = try users.get("alice")   // User(name: "Alice", visits: 2)
/// ```
///
/// ## The encoding
///
/// Every value, and every key that is not a `String`, is encoded by one encoder: `JSONEncoder`
/// with `outputFormatting = [.sortedKeys]` and the default strategies (dates as seconds since
/// 2001-01-01, `Data` as Base64). A `String` key is stored as its UTF-8 bytes, so
/// `typed.get("alice")` reads the same record as `db.get("alice")` and as `pogreb get alice`.
///
/// JSON with sorted keys rather than a binary property list, because:
/// - **Keys must encode to the same bytes every time.** A key is found by the hash of its bytes;
///   with sorted keys a struct or dictionary key encodes identically in every process, while a
///   `Dictionary`'s own order changes from process to process (its hash seed is random), and
///   `PropertyListEncoder` does not promise an order.
/// - **The stored bytes stay readable** by the `pogreb` command-line tool, by other languages and
///   by a person debugging, and mean the same under every Foundation implementation.
/// - The price is size and speed for number-heavy or byte-heavy values (Base64 grows `Data` by a
///   third). Store such values through the byte API (`[UInt8]` or `Data`) instead.
///
/// The layer costs the byte API nothing: it lives in this module, it only calls the public byte
/// methods, and a program that does not import `PogrebFoundation` does not link Foundation.
///
/// ## Concurrency
///
/// A `TypedStore` is a value holding the database and one encoder and decoder, which are safe
/// to share between threads; use it from any number of threads, as the database itself.
public struct TypedStore<Key: Codable, Value: Codable>: Sendable {
    /// The database the values are stored in.
    public let database: Database
    private let encoder: JSONEncoder
    private let decoder: JSONDecoder

    /// A typed view of `database`.
    public init(_ database: Database, keys: Key.Type = Key.self, values: Value.Type = Value.self) {
        self.database = database
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        self.encoder = encoder
        self.decoder = JSONDecoder()
    }

    /// The bytes `key` is stored under: a `String`'s UTF-8 bytes, anything else's JSON encoding.
    /// - Throws: `EncodingError` when `key` cannot be encoded.
    public func encodedKey(_ key: Key) throws -> Data {
        if let text = key as? String { return Data(text.utf8) }
        return try encoder.encode(key)
    }

    /// The value stored for `key`, decoded, or `nil` when the key is absent.
    ///
    /// Copies the stored bytes out once (no lock is held while decoding), then decodes them.
    /// - Throws: `PogrebError` from the lookup; `DecodingError` when the stored bytes are not a
    ///   JSON encoding of `Value` (for example a record written through the byte API).
    public func get(_ key: Key) throws -> Value? {
        guard let bytes = try database.get(encodedKey(key)) else { return nil }
        return try decoder.decode(Value.self, from: bytes)
    }

    /// Whether `key` is present.
    public func contains(_ key: Key) throws -> Bool {
        try database.contains(encodedKey(key))
    }

    /// Stores `value` for `key`, replacing any earlier value.
    /// - Throws: `EncodingError` before anything is written; what `Database` `put` throws.
    public func put(_ key: Key, _ value: Value) throws {
        try database.put(encodedKey(key), encoder.encode(value))
    }

    /// Removes `key`.
    /// - Returns: whether the key was present.
    @discardableResult
    public func delete(_ key: Key) throws -> Bool {
        try database.delete(encodedKey(key))
    }

    /// Stores `value` only if `key` is absent, atomically against other writers.
    /// - Returns: whether it stored the value.
    @discardableResult
    public func putIfAbsent(_ key: Key, _ value: Value) throws -> Bool {
        try database.putIfAbsent(Array(encodedKey(key)), Array(encoder.encode(value)))
    }

    /// Replaces the value of `key` with what `transform` returns for the current one (`nil` when
    /// absent), atomically against other writers; returning `nil` deletes the key.
    ///
    /// `transform` runs under the database's writer lock, with the decoding and encoding around
    /// it: keep it quick, and do not call the database from it.
    /// - Returns: the new value, or `nil` when the key is now absent.
    /// - Throws: what `transform` throws (nothing is written then), `DecodingError` when the
    ///   current bytes are not a `Value`, `EncodingError`, `PogrebError`.
    @discardableResult
    public func update(_ key: Key, _ transform: (Value?) throws -> Value?) throws -> Value? {
        var result: Value?
        try database.update(Array(encodedKey(key))) { current in
            let old = try current.map { try decoder.decode(Value.self, from: Data($0)) }
            result = try transform(old)
            return try result.map { Array(try encoder.encode($0)) }
        }
        return result
    }
}

extension Database {
    /// A view of this database whose keys are `Key` and values are `Value`, encoded as
    /// ``TypedStore`` describes.
    public func typed<Key: Codable, Value: Codable>(
        _ keys: Key.Type = Key.self, _ values: Value.Type = Value.self
    ) -> TypedStore<Key, Value> {
        TypedStore(self, keys: keys, values: values)
    }
}
