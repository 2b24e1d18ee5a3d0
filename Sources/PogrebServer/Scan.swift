import NIOCore
import Pogreb

/// SCAN's cursor: a position in the order of a fixed 64-bit hash of the key (``scanHash(_:)``).
///
/// Each call walks the keys of the log (``Pogreb/Database/forEachKey(_:)``), keeps the `COUNT`
/// matching keys with the smallest hashes at or after the cursor, and answers them with the
/// cursor just past the largest. The order depends on the key's bytes alone — not on where its
/// record lies, which compaction changes — so the Redis guarantees hold across compactions,
/// restarts and writes: a key present from the first call to the last is returned exactly once;
/// a key added or removed meanwhile may or may not be. Each call costs one walk of the log, so
/// a scan of n keys with `COUNT c` reads the log n / c times: use a large `COUNT`.
extension CommandProcessor {
    /// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type].
    func scan(_ a: [[UInt8]], out: inout ByteBuffer) throws {
        guard let cursor = UInt64(String(decoding: a[1], as: UTF8.self)) else {
            out.writeError("ERR invalid cursor")
            return
        }
        var pattern: [UInt8]?
        var count = 10
        var onlyStrings = true
        var index = 2
        while index < a.count {
            let option = String(decoding: a[index], as: UTF8.self).uppercased()
            guard index + 1 < a.count else {
                out.writeError("ERR syntax error")
                return
            }
            let value = a[index + 1]
            switch option {
            case "MATCH":
                pattern = value
            case "COUNT":
                guard let n = Int(String(decoding: value, as: UTF8.self)), n >= 1 else {
                    out.writeError(n0(value) ? "ERR syntax error" : "ERR value is not an integer or out of range")
                    return
                }
                count = min(n, 1 << 20)
            case "TYPE":
                onlyStrings = String(decoding: value, as: UTF8.self).lowercased() == "string"
            default:
                out.writeError("ERR syntax error")
                return
            }
            index += 2
        }
        var page = ScanPage(limit: count)
        if onlyStrings {
            try database.forEachKey { key in
                let hash = scanHash(key)
                guard hash >= cursor else { return }
                if let pattern, !globMatch(pattern: pattern, key) { return }
                page.offer(hash: hash, key: key)
            }
        }
        let (keys, next) = page.finish()
        out.writeArrayHeader(2)
        out.writeBulk(String(next))
        out.writeArrayHeader(keys.count)
        for key in keys { out.writeBulk(key) }
    }

    /// Whether `value` is the text `0` (Redis calls a zero COUNT a syntax error).
    private func n0(_ value: [UInt8]) -> Bool { value == [UInt8(ascii: "0")] }
}

/// The keys of one SCAN reply: those with the smallest hashes offered, at least `limit` of them
/// when that many were offered, and every key that shares the largest hash kept (so that the
/// next cursor, one past it, skips no key).
struct ScanPage {
    let limit: Int
    private var candidates: [(hash: UInt64, key: [UInt8])] = []
    /// Whether a key was dropped for lying past the page: the scan is then not complete.
    private var droppedAny = false

    init(limit: Int) { self.limit = limit }

    /// Considers one key. Memory stays within about twice `limit` keys.
    mutating func offer(hash: UInt64, key: [UInt8]) {
        candidates.append((hash, key))
        if candidates.count >= 2 * limit + 64 { trim() }
    }

    /// Sorts by hash and drops what lies past the `limit`-th key's hash.
    private mutating func trim() {
        candidates.sort { $0.hash < $1.hash }
        guard candidates.count > limit else { return }
        let boundary = candidates[limit - 1].hash
        var end = limit
        while end < candidates.count && candidates[end].hash == boundary { end += 1 }
        if end < candidates.count { droppedAny = true }
        candidates.removeSubrange(end...)
    }

    /// The keys to answer and the next cursor (0 when the scan is complete).
    mutating func finish() -> ([[UInt8]], UInt64) {
        trim()
        guard let last = candidates.last, droppedAny, last.hash != UInt64.max else {
            return (candidates.map(\.key), 0)
        }
        // More keys lie past the last one kept (trim dropped some), so the scan goes on.
        return (candidates.map(\.key), last.hash + 1)
    }
}

/// The hash SCAN orders keys by: FNV-1a over the bytes, then a 64-bit finalizer (murmur3's
/// fmix64) so that similar keys spread. Fixed forever: cursors stay valid across versions.
func scanHash(_ key: [UInt8]) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in key {
        hash ^= UInt64(byte)
        hash &*= 0x0000_0100_0000_01b3
    }
    hash ^= hash >> 33
    hash &*= 0xff51_afd7_ed55_8ccd
    hash ^= hash >> 33
    hash &*= 0xc4ce_b9fe_1a85_ec53
    hash ^= hash >> 33
    return hash
}

/// Redis' glob: `*` any run, `?` one byte, `[abc]`, `[^a]`, `[a-z]` sets, `\x` a literal `x`.
/// Iterative with one backtrack point, so no pattern takes more than quadratic time.
func globMatch(pattern: [UInt8], _ text: [UInt8]) -> Bool {
    var p = 0
    var t = 0
    var starP = -1
    var starT = 0
    while t < text.count {
        if p < pattern.count {
            switch pattern[p] {
            case UInt8(ascii: "*"):
                starP = p
                starT = t
                p += 1
                continue
            case UInt8(ascii: "?"):
                p += 1
                t += 1
                continue
            case UInt8(ascii: "["):
                if let (matched, next) = matchSet(pattern, from: p, text[t]), matched {
                    p = next
                    t += 1
                    continue
                }
            case UInt8(ascii: "\\") where p + 1 < pattern.count:
                if pattern[p + 1] == text[t] {
                    p += 2
                    t += 1
                    continue
                }
            default:
                if pattern[p] == text[t] {
                    p += 1
                    t += 1
                    continue
                }
            }
        }
        guard starP >= 0 else { return false }
        p = starP + 1
        starT += 1
        t = starT
    }
    while p < pattern.count && pattern[p] == UInt8(ascii: "*") { p += 1 }
    return p == pattern.count
}

/// Matches `byte` against the set starting at `pattern[start]` (`[`).
/// - Returns: whether it matched and the index after the set (an unclosed set runs to the end).
private func matchSet(_ pattern: [UInt8], from start: Int, _ byte: UInt8) -> (Bool, Int)? {
    var index = start + 1
    var negate = false
    if index < pattern.count && pattern[index] == UInt8(ascii: "^") {
        negate = true
        index += 1
    }
    var matched = false
    while index < pattern.count && pattern[index] != UInt8(ascii: "]") {
        if pattern[index] == UInt8(ascii: "\\") && index + 1 < pattern.count {
            if pattern[index + 1] == byte { matched = true }
            index += 2
        } else if index + 2 < pattern.count && pattern[index + 1] == UInt8(ascii: "-")
            && pattern[index + 2] != UInt8(ascii: "]")
        {
            let low = min(pattern[index], pattern[index + 2])
            let high = max(pattern[index], pattern[index + 2])
            if byte >= low && byte <= high { matched = true }
            index += 3
        } else {
            if pattern[index] == byte { matched = true }
            index += 1
        }
    }
    if index < pattern.count { index += 1 }  // the closing `]`
    return (matched != negate, index)
}
