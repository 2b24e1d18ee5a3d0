import Synchronization

/// Conditional and read-modify-write operations. Each runs under the writer lock from the read
/// of the current value to the append of the new record, so no other write can come between.
extension Database {
    /// What ``update(_:_:)-([UInt8],_)`` decided.
    enum Decision {
        case keep
        case put([UInt8])
        case delete
    }

    /// Stores `value` only if `key` is absent.
    /// - Returns: whether it stored the value.
    @discardableResult
    public func putIfAbsent(_ key: [UInt8], _ value: [UInt8]) throws(PogrebError) -> Bool {
        let (_, changed) = try readModifyWrite(key) { current in current == nil ? .put(value) : .keep }
        return changed
    }

    /// Replaces the value of `key` with `new` only if its current value is `expected`
    /// (`nil` expected: the key must be absent; `nil` new: delete it).
    /// - Returns: whether the current value was `expected` (and so the swap happened).
    @discardableResult
    public func compareAndSwap(_ key: [UInt8], expected: [UInt8]?, new: [UInt8]?) throws(PogrebError) -> Bool {
        var matched = false
        _ = try readModifyWrite(key) { current in
            guard current == expected else { return .keep }
            matched = true
            if let new { return .put(new) }
            return current == nil ? .keep : .delete
        }
        return matched
    }

    /// Replaces the value of `key` with what `transform` returns for the current one (`nil` when
    /// absent); returning `nil` deletes the key.
    ///
    /// `transform` runs under the writer lock: it must be quick and must not call this database.
    /// - Returns: the new value, or `nil` when the key is now absent.
    @discardableResult
    public func update(_ key: [UInt8], _ transform: ([UInt8]?) throws -> [UInt8]?) throws -> [UInt8]? {
        var caller = CallerClosure()
        let (value, _) = try readModifyWrite(key) { current in
            guard let next = caller.run({ try transform(current) }) else { return .keep }
            if next == current { return .keep }
            if let next { return .put(next) }
            return current == nil ? .keep : .delete
        }
        try caller.rethrow()
        return value
    }

    /// Reads the current value, asks `decide`, and applies its decision, all under the writer lock.
    /// - Returns: the value after the operation and whether anything was written.
    func readModifyWrite(_ key: [UInt8], _ decide: ([UInt8]?) -> Decision) throws(PogrebError) -> ([UInt8]?, Bool) {
        guard !isReadOnly else {
            throw PogrebError(.readOnly, "the database was opened read-only; open it without `readOnly` to write")
        }
        guard key.count <= Limits.maxKeySize else {
            throw PogrebError.keyTooLarge(key.count)
        }
        try refuseInsideRead("a write")
        let (result, changed, end) = try writer.withLock { (w) throws(PogrebError) -> ([UInt8]?, Bool, UInt64) in
            let current = try get(key)
            let decision = decide(current)
            let operation: WriteBatch.Operation
            switch decision {
            case .keep: return (current, false, w.appended)
            case .put(let value):
                guard value.count <= Limits.maxValueSize else {
                    throw PogrebError.valueTooLarge(value.count)
                }
                operation = .put(key: key, value: value)
            case .delete: operation = .delete(key: key)
            }
            var batch = WriteBatch()
            batch.operations = [operation]
            unsafe try batch.withRawOperations { (raw) throws(PogrebError) in
                _ = unsafe try applyLocked(raw, atomic: false, writer: &w)
            }
            if case .put(let value) = decision { return (value, true, w.appended) }
            return (nil, true, w.appended)
        }
        if changed && options.syncPolicy == .everyWrite { try makeDurable(upTo: end) }
        return (result, changed)
    }
}
