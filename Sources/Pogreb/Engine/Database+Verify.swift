import Synchronization

/// What ``Database/verify(progress:)`` found.
public struct VerificationReport: Sendable {
    /// One damaged place.
    public struct Problem: Sendable, Equatable, CustomStringConvertible {
        /// The file, as a path.
        public var file: String
        /// The byte offset in the file.
        public var offset: Int64
        /// What is wrong there.
        public var what: String
        /// The file, the offset and what is wrong, on one line.
        public var description: String { "\(file) at offset \(offset): \(what)" }
    }

    /// Every problem found, in file order.
    public var problems: [Problem] = []
    /// Records whose header and checksum were read.
    public var recordsChecked = 0
    /// Put records that are the current value of their key.
    public var liveRecords = 0
    /// Slots in the index.
    public var indexSlots = 0
    /// Buckets in the longest chain of the index (1 when no bucket has an overflow bucket).
    public var longestChain = 0
    /// Whether nothing was found wrong.
    public var isClean: Bool { problems.isEmpty }
}

extension Database {
    /// Reads every file header, every record and its checksum, and checks that the index and the
    /// log agree: every slot points at a put record of a key that hashes to that slot's bucket
    /// and tag, and every key's newest record is the one its slot points at.
    ///
    /// Runs beside readers and the writer; it holds the shared lock only for short steps, so
    /// records written during the check may be reported neither way. Reads the whole log with
    /// large `pread`s.
    /// - Parameter progress: called now and then with bytes checked and bytes in all.
    public func verify(progress: ((Int64, Int64) -> Void)? = nil) throws(PogrebError) -> VerificationReport {
        var report = VerificationReport()
        let (segments, endSequence, endOffset, pin) = try snapshotLog()
        defer { withExtendedLifetime(pin) {} }
        let total = segments.reduce(Int64(0)) { $0 + $1.size }
        var done: Int64 = 0

        // Headers of the other files.
        for (name, kind) in [(DatabaseFiles.index, FileHeader.Kind.index), (DatabaseFiles.overflow, .overflow)] {
            do throws(PogrebError) {
                let file = try fileSystem.open(name, .readOnly)
                defer { file.close() }
                let header = try DatabaseFiles.readHeader(
                    of: file, expected: kind, path: fileSystem.displayPath + "/" + name)
                if header.databaseID != databaseID {
                    report.problems.append(
                        .init(
                            file: fileSystem.displayPath + "/" + name, offset: 16, what: "belongs to another database"))
                }
            } catch {
                report.problems.append(.init(file: fileSystem.displayPath + "/" + name, offset: 0, what: error.message))
            }
        }

        // The checkpoint slots: the next checkpoint writes one of them, so a directory or a
        // device there makes writes fail (a damaged regular slot is only a torn journal).
        for slot in 0..<2 {
            let name = DatabaseFiles.checkpoint(slot: slot)
            do throws(PogrebError) {
                try DatabaseFiles.requireRegularFileOrNothing(name, in: fileSystem)
            } catch {
                report.problems.append(
                    .init(
                        file: fileSystem.displayPath + "/" + name, offset: 0,
                        what: "not a regular file, so the next checkpoint cannot be written and writes fail; move it "
                            + "out of the directory"))
            }
        }

        // The log, record by record.
        for segment in segments {
            let end = segment.sequence == endSequence ? endOffset : segment.size
            // One segment file open at a time (its own reference, or the cache's).
            let file: any StorageFile
            do throws(PogrebError) {
                file = try leaseSegment(segment, checked: false).file
            } catch {
                report.problems.append(.init(file: segment.name, offset: 0, what: error.message))
                continue
            }
            do throws(PogrebError) {
                let header = try DatabaseFiles.readHeader(of: file, expected: .segment, path: segment.name)
                if header.databaseID != databaseID || header.a != segment.sequence
                    || header.b != UInt64(segment.fileNumber)
                {
                    report.problems.append(
                        .init(
                            file: segment.name, offset: 16,
                            what: "the header does not match the segment's place in the database"))
                }
            } catch {
                report.problems.append(.init(file: segment.name, offset: 0, what: error.message))
                continue
            }
            var scanner = SegmentScanner(file: file, from: Int64(FileHeader.size), to: end)
            var pending: [(UInt64, [UInt8])] = []
            func checkLive() throws(PogrebError) {
                let live = try shared.withReadLock { (state) throws(PogrebError) -> Int in
                    var live = 0
                    for (address, key) in pending {
                        // A damaged bucket on the key's chain makes its record count as not
                        // current here; the index pass below reports the bucket.
                        let current: UInt64?
                        do throws(PogrebError) {
                            current = try unsafe key.withBytes { (raw) throws(PogrebError) -> UInt64? in
                                try unsafe state.lookup(key: raw, hash: XXH3.hash64(raw, seed: hashSeed))
                            }
                        } catch  where error.code == .corrupted {
                            current = nil
                        }
                        if current == address { live += 1 }
                    }
                    return live
                }
                report.liveRecords += live
                if segmentCache.hasEvicted.load(ordering: .relaxed) { releaseEvictedSegments() }
                pending.removeAll(keepingCapacity: true)
            }
            let stop = try unsafe scanner.scan(verify: true) { (offset, header, record) throws(PogrebError) -> Bool in
                report.recordsChecked += 1
                if header.kind == .put {
                    let address: UInt64
                    do throws(PogrebError) {
                        address = try layout.address(fileNumber: segment.fileNumber, offset: offset, in: segment.name)
                    } catch {
                        // Damage the checkpoint let in (no segment is written that long): report
                        // it and stop reading this segment.
                        report.problems.append(
                            .init(
                                file: segment.name, offset: offset,
                                what: "a record starts past the largest offset a log address holds "
                                    + "(\(layout.maxSegmentSize))"))
                        return false
                    }
                    unsafe pending.append(
                        (
                            address,
                            RawBytes.copy(
                                UnsafeRawBufferPointer(
                                    rebasing: record[Record.headerSize..<(Record.headerSize + header.keyLength)]))
                        ))
                }
                if pending.count >= 4096 {
                    try checkLive()
                    progress?(done + offset, total)
                }
                return true
            }
            try checkLive()
            if case .bad(let offset, let reason) = stop {
                report.problems.append(.init(file: segment.name, offset: offset, what: reason))
            }
            done += segment.size
            progress?(done, total)
        }

        // The index, bucket by bucket, in steps.
        var number: UInt64 = 0
        var keyCount: UInt64 = 0
        while true {
            let (finished, problems, slots, keys, longest) = try shared.withReadLock {
                (state) throws(PogrebError) -> (Bool, [VerificationReport.Problem], Int, UInt64, Int) in
                guard !state.isClosed else { throw PogrebError.closed() }
                var problems: [VerificationReport.Problem] = []
                var slots = 0
                var longest = 0
                // Steps of 64 buckets: the segments their records open are released between steps.
                let last = min(state.index.bucketCount, number + 64)
                while number < last {
                    // The chain, bucket by bucket: a bucket that fails its checksum or a link out
                    // of the file is reported, and ends the walk of this chain.
                    var id = BucketID.main(number)
                    var length = 0
                    while true {
                        length += 1
                        // The file and offset of this bucket: an overflow bucket is reported
                        // under overflow.pgo, a main one under index.pgi.
                        let file = fileSystem.displayPath + "/" + id.fileName
                        let (bucket, intact) = state.index.unverifiedBucket(id)
                        guard intact else {
                            problems.append(.init(file: file, offset: id.fileOffset, what: "\(id) fails its checksum"))
                            break
                        }
                        for i in 0..<Bucket.slotCount where bucket.slot(i) != 0 {
                            slots += 1
                            let slot = bucket.slot(i)
                            do throws(PogrebError) {
                                let hash = try state.hashOfRecord(at: Bucket.address(ofSlot: slot))
                                if Bucket.tag(ofHash: hash) != Bucket.tag(ofSlot: slot)
                                    || state.index.mainBucketNumber(forHash: hash) != number
                                {
                                    problems.append(
                                        .init(
                                            file: file, offset: id.fileOffset + Int64(8 * i),
                                            what:
                                                "slot \(i) of \(id) points at a record of a key that belongs elsewhere")
                                    )
                                }
                            } catch {
                                problems.append(
                                    .init(
                                        file: file, offset: id.fileOffset + Int64(8 * i),
                                        what: "slot \(i) of \(id): \(error.message)"))
                            }
                        }
                        let next = bucket.next
                        if next == 0 { break }
                        guard next < state.index.overflowCount, UInt64(length) <= state.index.overflowCount else {
                            problems.append(
                                .init(
                                    file: file, offset: id.fileOffset + 56,
                                    what:
                                        "the chain of bucket \(number) links \(id) to overflow bucket \(next), past "
                                        + "the \(state.index.overflowCount) buckets or round a loop"))
                            break
                        }
                        id = .overflow(next)
                    }
                    longest = max(longest, length)
                    number += 1
                }
                return (number >= state.index.bucketCount, problems, slots, state.index.keyCount, longest)
            }
            if segmentCache.hasEvicted.load(ordering: .relaxed) { releaseEvictedSegments() }
            report.problems += problems
            report.indexSlots += slots
            report.longestChain = max(report.longestChain, longest)
            keyCount = keys
            if finished { break }
        }
        if UInt64(report.indexSlots) != keyCount {
            report.problems.append(
                .init(
                    file: fileSystem.displayPath + "/" + DatabaseFiles.index, offset: 0,
                    what: "the index holds \(report.indexSlots) slots but counts \(keyCount) keys"))
        }
        if report.liveRecords != report.indexSlots {
            report.problems.append(
                .init(
                    file: fileSystem.displayPath + "/" + DatabaseFiles.index, offset: 0,
                    what: "the log holds \(report.liveRecords) current records but the index \(report.indexSlots) slots"
                ))
        }
        return report
    }
}
