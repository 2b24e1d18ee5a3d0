/// Writes a whole database in one pass, for ``Database/build(at:expectedCount:options:from:)``:
/// the log in large sequential appends, then the index sorted by bucket and written in order,
/// with no journal, no bucket split and no in-memory dirty table.
///
/// Memory: 16 bytes per pair (its hash and log address) while the log is written, 24 while the
/// index is (the bucket number added for the sort).
struct BulkBuilder {
    let fileSystem: any FileSystem
    let options: Options
    let databaseID: [UInt8]
    let layout: LogLayout
    let seed: UInt64
    let segmentSize: Int64

    private var entries: [(hash: UInt64, address: UInt64)] = []
    private var segments: [Segment] = []
    private var buffer: [UInt8] = []
    private var bufferStart: Int64 = 0
    private(set) var pairs = 0

    init(fileSystem: any FileSystem, options: Options, expectedCount: Int) throws(PogrebError) {
        self.fileSystem = fileSystem
        self.options = options
        self.databaseID = RawBytes.random(count: 16)
        self.layout = LogLayout(segmentSize: Int64(options.segmentSize))
        var generator = SystemRandomNumberGenerator()
        self.seed = generator.next()
        self.segmentSize = min(Int64(options.segmentSize), layout.maxSegmentSize)
        entries.reserveCapacity(expectedCount)
        buffer.reserveCapacity(8 << 20)
        try startSegment()
    }

    /// Creates the next segment file (`open(O_CREAT|O_EXCL)`) with its header.
    private mutating func startSegment() throws(PogrebError) {
        let sequence = UInt64(segments.count + 1)
        let number = UInt32(segments.count)
        guard number <= layout.maxFileNumber else {
            throw PogrebError(
                .invalidArgument, "the data needs more than \(layout.maxFileNumber) segments; use a larger segmentSize")
        }
        let segment = try Segment.create(
            sequence: sequence, fileNumber: number, databaseID: databaseID, in: fileSystem)
        segments.append(segment)
        bufferStart = Int64(FileHeader.size)
    }

    /// Writes the buffer to the current segment (`pwrite`).
    private mutating func flush() throws(PogrebError) {
        guard let segment = segments.last, !buffer.isEmpty else { return }
        try segment.openFile.write(buffer, at: bufferStart)
        bufferStart += Int64(buffer.count)
        buffer.removeAll(keepingCapacity: true)
    }

    /// Appends one put record.
    mutating func add(key: [UInt8], value: [UInt8]) throws(PogrebError) {
        guard key.count <= Limits.maxKeySize else {
            throw PogrebError.keyTooLarge(key.count)
        }
        guard value.count <= Limits.maxValueSize else {
            throw PogrebError.valueTooLarge(value.count)
        }
        guard var segment = segments.last else { return }
        if segment.size >= segmentSize {
            try flush()
            try segment.openFile.sync()
            segment.publish(nil)  // closed: the index pass below opens segments through a cache
            try startSegment()
            guard let next = segments.last else { return }
            segment = next
        }
        let offset = segment.size
        let hash = unsafe key.withUnsafeBytes { unsafe XXH3.hash64($0, seed: seed) }
        unsafe key.withUnsafeBytes { k in
            unsafe value.withUnsafeBytes { v in
                unsafe Record.append(kind: .put, flags: [], key: k, value: v, to: &buffer)
            }
        }
        segment.size += Int64(Record.size(keyLength: key.count, valueLength: value.count))
        entries.append((hash, layout.address(fileNumber: segment.fileNumber, offset: offset)))
        pairs += 1
        if buffer.count >= 8 << 20 { try flush() }
    }

    /// Syncs the log, builds and writes the index and the checkpoint, syncs everything.
    /// - Returns: the number of distinct keys.
    mutating func finish() throws(PogrebError) -> Int {
        try flush()
        try segments.last?.openFile.sync()
        segments.last?.publish(nil)
        let sizing = HashIndex(bucketCount: 1, overflowCount: 1, freeHead: 0, keyCount: 0)
        let bucketCount = max(
            HashIndex.initialBucketCount,
            UInt64((Double(entries.count) / (HashIndex.maxLoad * Double(Bucket.slotCount))).rounded(.up)))
        var index = sizing
        index.bucketCount = bucketCount
        // Sort by bucket, then hash, then address: a key given twice sits next to itself, its
        // later record last.
        let table = index
        // Each pair's bucket computed once, then one sort on (bucket, hash, address).
        var sorted = entries.map {
            (bucket: table.mainBucketNumber(forHash: $0.hash), hash: $0.hash, address: $0.address)
        }
        entries = []
        sorted.sort { a, b in
            if a.bucket != b.bucket { return a.bucket < b.bucket }
            if a.hash != b.hash { return a.hash < b.hash }
            return a.address < b.address
        }
        var table2 = SegmentTable()
        for segment in segments { table2[segment.fileNumber] = segment }
        // Records are read (to compare keys) through a cache of mapped segments, so a build of
        // any number of segments needs a bounded number of descriptors.
        let cache = SegmentCache(
            fileSystem: fileSystem, databaseID: databaseID, limit: options.maxOpenSegments, maps: true)
        defer { _ = cache.removeAll() }
        let state = SharedState(
            index: sizing, segments: table2, active: nil, cache: cache, layout: layout, hashSeed: seed)

        // Index files: the header page, then every bucket in order; overflow buckets as needed.
        let indexFile = try fileSystem.open(DatabaseFiles.index, .createNew)
        defer { indexFile.close() }
        let overflowFile = try fileSystem.open(DatabaseFiles.overflow, .createNew)
        defer { overflowFile.close() }
        var mainBytes = ByteWriter(capacity: 4 << 20)
        var overflowBytes = ByteWriter(capacity: 1 << 20)
        overflowBytes.appendZeros(Bucket.size)  // overflow bucket 0 is never used
        var overflowCount: UInt64 = 1
        var mainWritten: Int64 = BucketID.headerPageSize
        var overflowWritten: Int64 = BucketID.headerPageSize
        var keys = 0
        var i = 0
        for number in 0..<bucketCount {
            // The distinct keys of this bucket.
            var slots: [UInt64] = []
            while i < sorted.count, sorted[i].bucket == number {
                let entry = sorted[i]
                var j = i + 1
                var keep = true
                // A later record of the same key (same hash, same key bytes) replaces this one.
                while j < sorted.count, sorted[j].hash == entry.hash {
                    if try sameKey(state, entry.address, sorted[j].address) {
                        keep = false
                        break
                    }
                    j += 1
                }
                if keep {
                    slots.append(Bucket.makeSlot(tag: Bucket.tag(ofHash: entry.hash), address: entry.address))
                } else {
                    state.markDead(entry.address, bytes: state.recordSize(at: entry.address))
                }
                i += 1
            }
            keys += slots.count
            // Fill the main bucket, then a chain of overflow buckets.
            var chunks: [[UInt64]] = stride(from: 0, to: max(slots.count, 1), by: Bucket.slotCount).map {
                Array(slots[min($0, slots.count)..<min($0 + Bucket.slotCount, slots.count)])
            }
            if chunks.isEmpty { chunks = [[]] }
            for (c, chunk) in chunks.enumerated() {
                var bucket = Bucket()
                for (s, slot) in chunk.enumerated() { bucket.setSlot(s, slot) }
                if c + 1 < chunks.count { bucket.next = overflowCount + (c == 0 ? 0 : 1) }
                if c == 0 {
                    bucket.append(to: &mainBytes, id: .main(number))
                } else {
                    guard overflowCount <= Bucket.maxOverflowNumber else {
                        throw PogrebError(
                            .invalidArgument,
                            "the index needs more than \(Bucket.maxOverflowNumber) overflow buckets, the most a "
                                + "bucket can link to")
                    }
                    bucket.append(to: &overflowBytes, id: .overflow(overflowCount))
                    overflowCount += 1
                }
            }
            if mainBytes.bytes.count >= 4 << 20 {
                try indexFile.write(mainBytes.bytes, at: mainWritten)
                mainWritten += Int64(mainBytes.bytes.count)
                mainBytes.bytes.removeAll(keepingCapacity: true)
            }
            if overflowBytes.bytes.count >= 1 << 20 {
                try overflowFile.write(overflowBytes.bytes, at: overflowWritten)
                overflowWritten += Int64(overflowBytes.bytes.count)
                overflowBytes.bytes.removeAll(keepingCapacity: true)
            }
        }
        try indexFile.write(mainBytes.bytes, at: mainWritten)
        try overflowFile.write(overflowBytes.bytes, at: overflowWritten)
        try indexFile.write(
            FileHeader(kind: .index, databaseID: databaseID, a: seed, b: UInt64(layout.offsetBits), c: 1).encoded(),
            at: 0)
        try overflowFile.write(
            FileHeader(kind: .overflow, databaseID: databaseID, a: seed, b: UInt64(layout.offsetBits), c: 1).encoded(),
            at: 0)
        try indexFile.truncate(to: BucketID.fileOffset(ofNumber: bucketCount))
        try overflowFile.truncate(to: BucketID.fileOffset(ofNumber: overflowCount))
        try indexFile.sync()
        try overflowFile.sync()

        guard let last = segments.last else { return keys }
        let checkpoint = Checkpoint(
            sequence: 1, bucketCount: bucketCount, overflowCount: overflowCount, freeHead: 0, keyCount: UInt64(keys),
            positionSegment: last.sequence, positionOffset: last.size, nextSegmentSequence: last.sequence + 1,
            hashSeed: seed, offsetBits: layout.offsetBits,
            segments: segments.map {
                .init(sequence: $0.sequence, fileNumber: $0.fileNumber, size: $0.size, deadBytes: $0.deadBytes)
            },
            changedBuckets: [])
        for handle in cache.removeAll() { handle.file.close() }
        try Database.publishFirstCheckpoint(checkpoint, databaseID: databaseID, fileSystem: fileSystem)
        return keys
    }

    private func sameKey(_ state: SharedState, _ a: UInt64, _ b: UInt64) throws(PogrebError) -> Bool {
        try unsafe state.withRecord(at: a, verify: false) { (header, record) throws(PogrebError) -> Bool in
            try unsafe state.recordHasKey(
                b,
                key: UnsafeRawBufferPointer(
                    rebasing: record[Record.headerSize..<(Record.headerSize + header.keyLength)]))
        }
    }
}
