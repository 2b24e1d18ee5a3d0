/// Reads the records of a segment file in order, with large `pread`s into a sliding buffer.
///
/// Used by recovery, iteration, compaction and the verifier. Stops at the first record that does
/// not check out and says why, so the caller decides between "torn tail" and "corrupted".
package struct SegmentScanner {
    package enum Stop: Equatable {
        /// The scan reached `end` exactly on a record boundary.
        case end
        /// The record at `offset` is cut short, malformed or fails its checksum.
        case bad(offset: Int64, reason: String)
    }

    let file: any StorageFile
    let end: Int64
    package private(set) var offset: Int64
    private var buffer: [UInt8] = []
    private var bufferStart: Int64 = 0
    static let chunk = 4 << 20

    package init(file: any StorageFile, from offset: Int64, to end: Int64) {
        self.file = file
        self.offset = offset
        self.end = end
        self.bufferStart = offset
    }

    /// Ensures bytes `[offset, offset + count)` are in the buffer (or as many as the file holds).
    private mutating func fill(_ count: Int) throws(PogrebError) {
        let haveFrom = offset - bufferStart
        if haveFrom >= 0, Int(haveFrom) + count <= buffer.count { return }
        let want = max(count, SegmentScanner.chunk)
        let length = Int(min(Int64(want), end - offset))
        var fresh = [UInt8](repeating: 0, count: max(length, 0))
        let got = try unsafe fresh.withMutableBytes { (raw) throws(PogrebError) -> Int in
            try unsafe file.read(into: raw, at: offset)
        }
        if got < fresh.count { fresh.removeSubrange(got...) }
        buffer = fresh
        bufferStart = offset
    }

    /// Calls `body` with each good record's offset, header and bytes until the end or a bad
    /// record; `body` returns false to stop early (reported as `.end`).
    package mutating func scan(
        verify: Bool = true, _ body: (Int64, Record.Header, UnsafeRawBufferPointer) throws(PogrebError) -> Bool
    ) throws(PogrebError) -> Stop {
        while offset < end {
            try fill(Record.headerSize)
            let local = Int(offset - bufferStart)
            let available = Int(min(end - offset, Int64(Int.max)))
            let decoded = unsafe buffer.withUnsafeBytes { raw in
                unsafe Record.decodeHeader(UnsafeRawBufferPointer(rebasing: raw[local...]), available: available)
            }
            let header: Record.Header
            switch decoded {
            case .success(let h): header = h
            case .failure(.truncated): return .bad(offset: offset, reason: "record cut short at the end of the file")
            case .failure(.invalid(let what)): return .bad(offset: offset, reason: what)
            }
            try fill(header.totalSize)
            let start = Int(offset - bufferStart)
            guard start + header.totalSize <= buffer.count else {
                return .bad(offset: offset, reason: "record cut short at the end of the file")
            }
            let here = offset
            let keepGoing = try unsafe buffer.withBytes { (raw) throws(PogrebError) -> Bool? in
                let record = unsafe UnsafeRawBufferPointer(rebasing: raw[start..<(start + header.totalSize)])
                if verify, unsafe !Record.checksumMatches(record, header: header) { return nil }
                return try unsafe body(here, header, record)
            }
            guard let keepGoing else { return .bad(offset: offset, reason: "record checksum mismatch") }
            offset += Int64(header.totalSize)
            if !keepGoing { return .end }
        }
        return .end
    }
}

/// What a bad record in the replayed tail of the newest segment is: the torn end of the log that
/// a power cut leaves, or damage to records that may have been synced.
///
/// The storage model (docs/DESIGN.md, "Media assumptions"): after a power cut, each 512-byte
/// sector written since the last sync holds either what was written or what it held before,
/// whole, and sectors past the durable end that never reached the disk read as zeros (or lie past
/// the end of the file). Sectors reach the disk in any order, so a later sector may survive while
/// an earlier one is lost. Flushes write whole records, so the first bad record of a torn tail
/// either runs past the end of the file, or holds zeros from its start to the end of its sector,
/// or has a readable header and a whole zero sector inside it. A bad record that shows none of
/// these, with a valid record after it, is damage: a torn tail cannot make it.
package enum TailDamage: Equatable {
    /// Cut here: no valid record follows, or the damage is a hole a power cut leaves (`why`).
    case tornTail(why: String)
    /// Not a torn tail: a valid record starts at `nextRecord`.
    case damage(nextRecord: Int64)

    static let sectorSize: Int64 = 512
    /// The most bytes of candidate records whose checksum is computed (some read anew, when they
    /// run past the window): random bytes pass the header checks at about one offset in 130 000,
    /// each with a length of up to 512 MiB, so without a bound the search could cost far more than
    /// one read of the tail.
    static let candidateBudget = 256 << 20

    /// Classifies the bad record at `offset` of `file`, whose bytes end at `end`. Reads the
    /// file from `offset` to `end` at most once in 1 MiB windows, and checksums candidate records
    /// (at most ``candidateBudget`` bytes, reading those that run past a window; past it, a header
    /// that decodes counts as a valid record, so the answer errs towards `damage`).
    package static func classify(file: any StorageFile, at offset: Int64, end: Int64) throws(PogrebError) -> TailDamage
    {
        guard let next = try nextRecord(in: file, after: offset, end: end) else {
            return .tornTail(why: "no valid record follows")
        }
        // Zeros from the record's start to the end of its sector: the sector kept only what
        // was written before this record (a flush ends on a record boundary).
        let sectorEnd = min((offset / sectorSize + 1) * sectorSize, end)
        let head = try file.readExactly(count: Int(sectorEnd - offset), at: offset)
        if head.allSatisfy({ $0 == 0 }) {
            return .tornTail(
                why: "zeros up to the sector boundary at \(sectorEnd): the record at \(next) lies in a sector "
                    + "that was never synced")
        }
        // A whole sector of the record that reads as zeros: one inside the record when its header
        // decodes, or the one its header runs into when it does not.
        let headerBytes = try file.readExactly(count: Int(min(Int64(Record.headerSize), end - offset)), at: offset)
        let decoded = unsafe headerBytes.withBytes { raw in
            unsafe Record.decodeHeader(raw, available: Int(min(end - offset, Int64(Int.max))))
        }
        var recordEnd: Int64?
        if case .success(let header) = decoded {
            recordEnd = offset + Int64(header.totalSize)
        } else if offset + Int64(Record.headerSize) > sectorEnd {
            recordEnd = offset + Int64(Record.headerSize)
        }
        if let recordEnd {
            var sector = sectorEnd
            while sector < recordEnd && sector < end {
                let length = Int(min(sector + sectorSize, end) - sector)
                if try file.readExactly(count: length, at: sector).allSatisfy({ $0 == 0 }) {
                    return .tornTail(
                        why: "the sector at \(sector) reads as zeros: the record at \(next) lies in a sector "
                            + "that was never synced")
                }
                sector += sectorSize
            }
        }
        return .damage(nextRecord: next)
    }

    /// The offset of the first valid record (a header that decodes and a matching checksum)
    /// that starts after `offset`, trying every byte offset up to `end`; nil when none does.
    static func nextRecord(in file: any StorageFile, after offset: Int64, end: Int64) throws(PogrebError) -> Int64? {
        let window = 1 << 20
        var budget = candidateBudget
        var start = offset + 1
        while start + Int64(Record.headerSize) <= end {
            let length = Int(min(Int64(window + Record.headerSize), end - start))
            let bytes = try file.readExactly(count: length, at: start)
            let found = try unsafe bytes.withBytes { (raw) throws(PogrebError) -> Int64? in
                var i = 0
                while i + Record.headerSize <= raw.count && i < window {
                    defer { i += 1 }
                    let here = start + Int64(i)
                    let available = Int(min(end - here, Int64(Int.max)))
                    guard
                        case .success(let header) = unsafe Record.decodeHeader(
                            UnsafeRawBufferPointer(rebasing: raw[i...]), available: available)
                    else { continue }
                    // Past the budget, a header that decodes counts as a valid record.
                    guard budget >= header.totalSize else { return here }
                    budget -= header.totalSize
                    if i + header.totalSize <= raw.count {
                        let record = unsafe UnsafeRawBufferPointer(rebasing: raw[i..<(i + header.totalSize)])
                        if unsafe Record.checksumMatches(record, header: header) { return here }
                        continue
                    }
                    let record = try file.readExactly(count: header.totalSize, at: here)
                    if unsafe record.withBytes({ unsafe Record.checksumMatches($0, header: header) }) { return here }
                }
                return nil
            }
            if let found { return found }
            start += Int64(window)
        }
        return nil
    }
}
