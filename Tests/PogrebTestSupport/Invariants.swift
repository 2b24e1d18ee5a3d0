import Pogreb

/// A broken invariant found by ``checkInvariants(_:model:)``.
package struct InvariantViolation: Error, CustomStringConvertible, Sendable {
    package var problems: [String]
    package var description: String {
        "\(problems.count) invariant(s) broken:\n" + problems.prefix(20).joined(separator: "\n")
            + (problems.count > 20 ? "\n… and \(problems.count - 20) more" : "")
    }
}

/// Checks what must hold of any open database, and throws ``InvariantViolation`` listing every
/// problem found:
/// - `count` equals the number of items `forEachItem` returns, and `statistics.keyCount`;
/// - `forEachItem` returns each key once, and `get` and `contains` agree with every item;
/// - `items()` and `keys()` return the same keys, without an error;
/// - each segment's dead bytes lie within its size;
/// - with `model`, the items are exactly the model's entries.
package func checkInvariants(_ db: Database, model: ReferenceModel? = nil) throws {
    var problems: [String] = []
    let count = try db.count
    var seen: [[UInt8]: [UInt8]] = [:]
    var duplicates = 0
    try db.forEachItem { item in
        if seen.updateValue(item.value, forKey: item.key) != nil {
            duplicates += 1
            if duplicates <= 5 { problems.append("forEachItem returned \(printable(item.key)) twice") }
        }
    }
    if seen.count + duplicates != count || duplicates > 0 {
        problems.append(
            "count is \(count) but forEachItem returned \(seen.count + duplicates) items (\(seen.count) distinct keys)")
    }
    for (key, value) in seen {
        let stored = try db.get(key)
        if stored != value {
            problems.append(
                "get(\(printable(key))) is \(stored.map { "\($0.count) bytes" } ?? "nil"), forEachItem returned \(value.count) bytes"
            )
        }
        if try !db.contains(key) { problems.append("contains(\(printable(key))) is false for an item") }
    }
    var iterator = db.items().makeIterator()
    var fromItems: [[UInt8]: [UInt8]] = [:]
    while let item = iterator.next() { fromItems[item.key] = item.value }
    if let failure = iterator.failure { problems.append("items() failed: \(failure)") }
    if fromItems != seen {
        problems.append("items() returned \(fromItems.count) keys, forEachItem \(seen.count), or other values")
    }
    var keyIterator = db.keys().makeIterator()
    var keys = Set<[UInt8]>()
    while let item = keyIterator.next() {
        keys.insert(item.key)
        if !item.value.isEmpty { problems.append("keys() returned a value for \(printable(item.key))") }
    }
    if let failure = keyIterator.failure { problems.append("keys() failed: \(failure)") }
    if keys != Set(seen.keys) { problems.append("keys() returned \(keys.count) keys, forEachItem \(seen.count)") }
    let statistics = try db.statistics
    if statistics.keyCount != count { problems.append("statistics.keyCount \(statistics.keyCount) != count \(count)") }
    for segment in statistics.segments where segment.deadBytes < 0 || segment.deadBytes > segment.size {
        problems.append("\(segment.name): \(segment.deadBytes) dead bytes of \(segment.size)")
    }
    if let model {
        if model.count != count { problems.append("the model holds \(model.count) keys, the database \(count)") }
        var missing = 0
        var wrong = 0
        for (key, value) in model.entries {
            guard let stored = seen[key] else {
                missing += 1
                if missing <= 5 { problems.append("\(printable(key)) is missing (the model has \(value.count) bytes)") }
                continue
            }
            if stored != value {
                wrong += 1
                if wrong <= 5 {
                    problems.append("\(printable(key)) holds \(stored.count) bytes, the model \(value.count)")
                }
            }
        }
        let extra = seen.keys.filter { !model.contains($0) }
        for key in extra.prefix(5) { problems.append("\(printable(key)) is present but not in the model") }
        if missing > 5 || wrong > 5 || extra.count > 5 {
            problems.append("in all: \(missing) missing, \(wrong) with another value, \(extra.count) extra")
        }
    }
    if !problems.isEmpty { throw InvariantViolation(problems: problems) }
}
