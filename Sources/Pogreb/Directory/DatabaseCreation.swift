extension Database {
    /// Creates the files of an empty database. The checkpoint file is written last, through a
    /// temporary name and a rename, so a directory without it is an unfinished creation.
    static func create(fileSystem: any FileSystem, options: Options) throws(PogrebError) {
        let id = RawBytes.random(count: 16)
        var generator = SystemRandomNumberGenerator()
        let seed = generator.next()
        let layout = LogLayout(segmentSize: Int64(options.segmentSize))
        let bucketCount = HashIndex.initialBucketCount

        let index = try fileSystem.open(DatabaseFiles.index, .createNew)
        defer { index.close() }
        try index.write(
            FileHeader(kind: .index, databaseID: id, a: seed, b: UInt64(layout.offsetBits), c: 1).encoded(), at: 0)
        // Every main bucket is written, empty, with its checksum (an all-zero bucket fails it).
        var buckets = ByteWriter(capacity: Int(bucketCount) * Bucket.size)
        for number in 0..<bucketCount { Bucket().append(to: &buckets, id: .main(number)) }
        try index.truncate(to: BucketID.headerPageSize)
        try index.write(buckets.bytes, at: BucketID.headerPageSize)
        try index.sync()

        let overflow = try fileSystem.open(DatabaseFiles.overflow, .createNew)
        defer { overflow.close() }
        try overflow.write(
            FileHeader(kind: .overflow, databaseID: id, a: seed, b: UInt64(layout.offsetBits), c: 1).encoded(), at: 0)
        try overflow.truncate(to: BucketID.fileOffset(ofNumber: 1))
        try overflow.sync()

        let segmentFile = try fileSystem.open(DatabaseFiles.segment(sequence: 1), .createNew)
        defer { segmentFile.close() }
        try segmentFile.write(FileHeader(kind: .segment, databaseID: id, a: 1, b: 0, c: 0).encoded(), at: 0)
        try segmentFile.sync()

        let checkpoint = Checkpoint(
            sequence: 1, bucketCount: bucketCount, overflowCount: 1, freeHead: 0, keyCount: 0,
            positionSegment: 1, positionOffset: Int64(FileHeader.size), nextSegmentSequence: 2, hashSeed: seed,
            offsetBits: layout.offsetBits,
            segments: [.init(sequence: 1, fileNumber: 0, size: Int64(FileHeader.size), deadBytes: 0)],
            changedBuckets: [])
        try publishFirstCheckpoint(checkpoint, databaseID: id, fileSystem: fileSystem)
    }

    /// Makes `checkpoint` (sequence 1) the database's first checkpoint, once every other file is
    /// durable: it is written to `checkpoint.tmp` (`open(O_CREAT|O_EXCL)`, `pwrite`, `fdatasync`),
    /// the directory is `fsync`ed so that the entries of the files it names (index, overflow,
    /// segments, created by the caller) and of the temporary are durable, then the temporary is
    /// renamed into its slot and the directory `fsync`ed again. Without the first directory sync a
    /// power cut could keep the rename but lose the index's entry: a checkpoint naming files that
    /// are not there. A directory without a checkpoint file is an unfinished creation (or build,
    /// or repair), which `open` recognizes.
    static func publishFirstCheckpoint(
        _ checkpoint: Checkpoint, databaseID id: [UInt8], fileSystem: any FileSystem
    ) throws(PogrebError) {
        let temporary = try fileSystem.open(DatabaseFiles.creating, .createNew)
        defer { temporary.close() }
        try temporary.write(checkpoint.encoded(databaseID: id), at: 0)
        try temporary.sync()
        try fileSystem.syncDirectory()
        try fileSystem.rename(DatabaseFiles.creating, to: DatabaseFiles.checkpoint(sequence: checkpoint.sequence))
        try fileSystem.syncDirectory()
    }
}
