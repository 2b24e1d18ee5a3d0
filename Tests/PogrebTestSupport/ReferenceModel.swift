/// What a database should hold: a dictionary with the same operations and the same answers.
package struct ReferenceModel: Sendable, Equatable {
    package private(set) var entries: [[UInt8]: [UInt8]] = [:]

    package init() {}

    package init(_ entries: [[UInt8]: [UInt8]]) { self.entries = entries }

    package var count: Int { entries.count }

    package func get(_ key: [UInt8]) -> [UInt8]? { entries[key] }

    package func contains(_ key: [UInt8]) -> Bool { entries[key] != nil }

    /// Stores `value`; returns whether the key was present (as `WriteBatch` results do).
    @discardableResult
    package mutating func put(_ key: [UInt8], _ value: [UInt8]) -> Bool {
        entries.updateValue(value, forKey: key) != nil
    }

    /// Removes `key`; returns whether it was present (as ``Database/delete(_:)`` does).
    @discardableResult
    package mutating func delete(_ key: [UInt8]) -> Bool {
        entries.removeValue(forKey: key) != nil
    }

    /// Applies a list of operations in order, as one batch; returns, for each, whether its key
    /// was present before it.
    @discardableResult
    package mutating func apply(_ operations: [ModelOperation]) -> [Bool] {
        operations.map { operation in
            switch operation {
            case .put(let key, let value): return put(key, value)
            case .delete(let key): return delete(key)
            }
        }
    }

    package var keys: [[UInt8]] { Array(entries.keys) }
}

/// One write, for the model and for building a `WriteBatch` with the same content.
package enum ModelOperation: Sendable, Equatable, CustomStringConvertible {
    case put([UInt8], [UInt8])
    case delete([UInt8])

    package var key: [UInt8] {
        switch self {
        case .put(let key, _): return key
        case .delete(let key): return key
        }
    }

    package var description: String {
        switch self {
        case .put(let key, let value): return "put(\(printable(key)), \(value.count) bytes)"
        case .delete(let key): return "delete(\(printable(key)))"
        }
    }
}

/// A key or value shown as text when it is printable ASCII, as hex otherwise.
package func printable(_ bytes: [UInt8]) -> String {
    if bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) { return "\"" + String(decoding: bytes, as: UTF8.self) + "\"" }
    return "0x" + bytes.prefix(32).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        + (bytes.count > 32 ? "…(\(bytes.count))" : "")
}
