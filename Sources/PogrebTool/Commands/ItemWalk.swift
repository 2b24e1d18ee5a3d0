import Pogreb

/// Ends a walk early from inside the engine's iteration closure.
private struct StopWalk: Error {}

/// Walks the items of `db` (or only keys), filtered by `prefix`, up to `limit`, calling `emit`
/// for each. Checks for Ctrl-C and for a failed output between items.
/// - Returns: the number of items emitted.
func walkItems(
    _ db: Database, keysOnly: Bool, prefix: [UInt8]?, limit: Int?, output: OutputSink, progress: Progress?,
    _ emit: (_ key: [UInt8], _ value: [UInt8]) -> Void
) throws(ToolError) -> Int {
    var emitted = 0
    var seen: Int64 = 0
    if limit == 0 { return 0 }
    func body(_ key: [UInt8], _ value: [UInt8]) throws {
        seen += 1
        if seen & 1023 == 0 {
            if Interrupt.requested { throw Interrupt.error }
            if output.hasFailed { throw StopWalk() }
            progress?.update(seen)
        }
        if let prefix, !key.starts(with: prefix) { return }
        emit(key, value)
        emitted += 1
        if let limit, emitted >= limit { throw StopWalk() }
    }
    do {
        if keysOnly {
            try db.forEachKey { try body($0, []) }
        } else {
            try db.forEachItem { try body($0.key, $0.value) }
        }
    } catch is StopWalk {
    } catch {
        progress?.finish()
        throw toolError(error)
    }
    progress?.finish()
    return emitted
}
