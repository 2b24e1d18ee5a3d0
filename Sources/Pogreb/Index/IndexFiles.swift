/// The index files' I/O: loading them at open (headers checked against the checkpoint, an
/// interrupted journal redone), writing a journal's buckets into them, mapping them.
extension Database {
    /// Opens an index file; a missing one is `corrupted` index damage (a writable open rebuilds
    /// it from the log), with the hint that `pogreb repair` does the same.
    private static func openIndexFile(
        _ name: String, fileSystem: any FileSystem, readOnly: Bool
    ) throws(PogrebError) -> any StorageFile {
        do throws(PogrebError) {
            return try fileSystem.open(name, readOnly ? .readOnly : .readWrite)
        } catch  where error.code == .io && (error.underlying as? Errno) == .noEntry {
            throw PogrebError(
                .corrupted,
                "\(fileSystem.displayPath)/\(name) is missing. The log holds everything: `pogreb repair` rebuilds "
                    + "the index from it (a writable open does too).",
                underlying: error)
        }
    }

    /// The checkpoint and the index files, with the journal redone if needed.
    static func loadIndex(
        fileSystem: any FileSystem, readOnly: Bool
    ) throws(PogrebError) -> (Checkpoint, [UInt8], HashIndex, any StorageFile, any StorageFile) {
        var (checkpoint, id) = try newestCheckpoint(fileSystem: fileSystem)
        let layout = LogLayout(offsetBits: checkpoint.offsetBits)
        let path = fileSystem.displayPath

        // Index files: check headers, redo the journal when it was not fully applied.
        let indexFile = try openIndexFile(DatabaseFiles.index, fileSystem: fileSystem, readOnly: readOnly)
        let overflowFile = try openIndexFile(DatabaseFiles.overflow, fileSystem: fileSystem, readOnly: readOnly)
        let indexHeader = try DatabaseFiles.readHeader(
            of: indexFile, expected: .index, path: path + "/" + DatabaseFiles.index)
        let overflowHeader = try DatabaseFiles.readHeader(
            of: overflowFile, expected: .overflow, path: path + "/" + DatabaseFiles.overflow)
        for header in [indexHeader, overflowHeader] where header.databaseID != id {
            throw PogrebError(
                .notADatabase,
                "\(path): the index files belong to another database than the checkpoint. Nothing was changed.")
        }
        guard indexHeader.a == checkpoint.hashSeed, indexHeader.b == UInt64(checkpoint.offsetBits) else {
            throw PogrebError.corrupted(
                file: path + "/" + DatabaseFiles.index, offset: 32, "hash seed or layout differ from the checkpoint's")
        }
        var pendingImages: [(id: BucketID, bucket: Bucket)] = []
        if indexHeader.c != checkpoint.sequence {
            guard indexHeader.c < checkpoint.sequence else {
                // The index names a newer checkpoint than the newest valid slot: that slot was
                // damaged (or replaced) after the index was written. Name the slot, not the index.
                let newest = Int(indexHeader.c & 1)
                if let damage = try checkpointSlots(fileSystem: fileSystem).damage.first(where: { $0.slot == newest }) {
                    var error = damage.error
                    // The index, ours, names this checkpoint: whatever is in the slot is damage.
                    if error.code == .notADatabase { error.code = .corrupted }
                    error.message =
                        "the newest checkpoint (\(indexHeader.c), which \(DatabaseFiles.index) names) cannot be read: "
                        + error.message
                    throw error
                }
                throw PogrebError.corrupted(
                    file: path + "/" + DatabaseFiles.index, offset: 48,
                    "the index names checkpoint \(indexHeader.c), newer than the newest valid checkpoint "
                        + "(\(checkpoint.sequence)): \(DatabaseFiles.checkpoint(sequence: indexHeader.c)) is missing or "
                        + "older than the index"
                )
            }
            // Checkpoint n is written only once n - 1 is in the index files: an index that names
            // an older one is a stale copy, which the journal of n cannot bring up to date.
            guard indexHeader.c == checkpoint.sequence - 1 else {
                throw PogrebError.corrupted(
                    file: path + "/" + DatabaseFiles.index, offset: 48,
                    "the index names checkpoint \(indexHeader.c), older than the one before the newest "
                        + "(\(checkpoint.sequence)): it is an old copy"
                )
            }
            do throws(PogrebError) {
                let (header, full) = try readCheckpoint(
                    fileSystem: fileSystem, slot: Int(checkpoint.sequence & 1), withBuckets: true)
                guard header.databaseID == id else {
                    throw PogrebError.corrupted(file: path, offset: 16, "journal of another database")
                }
                try checkJournalHoldsNewBuckets(full, indexFile: indexFile, overflowFile: overflowFile, path: path)
                checkpoint = full
                if readOnly {
                    pendingImages = checkpoint.changedBuckets
                } else {
                    try applyJournal(
                        checkpoint, indexFile: indexFile, overflowFile: overflowFile, databaseID: id, layout: layout)
                }
            } catch  where error.code == .corrupted {
                // The newest journal's buckets never became durable, so its application never
                // began: the index is still that of the checkpoint it names, if that one is whole.
                let (header, previous) = try readCheckpoint(
                    fileSystem: fileSystem, slot: Int(indexHeader.c & 1), withBuckets: false)
                guard previous.sequence == indexHeader.c, header.databaseID == id else { throw error }
                checkpoint = previous
            }
        }
        // overflow.pgo names the checkpoint whose buckets it holds, as index.pgi does (an older copy
        // would pass every bucket checksum). A journal being redone may have reached it already.
        let redoing = indexHeader.c != checkpoint.sequence
        guard overflowHeader.c == indexHeader.c || (redoing && overflowHeader.c == checkpoint.sequence) else {
            throw PogrebError.corrupted(
                file: path + "/" + DatabaseFiles.overflow, offset: 48,
                "the overflow file names checkpoint \(overflowHeader.c), the index checkpoint \(indexHeader.c) "
                    + "(newest \(checkpoint.sequence)): it is a copy from another moment"
            )
        }
        let mainNeeded = BucketID.fileOffset(ofNumber: checkpoint.bucketCount)
        let overflowNeeded = BucketID.fileOffset(ofNumber: checkpoint.overflowCount)
        var mappedMain = checkpoint.bucketCount
        var mappedOverflow = checkpoint.overflowCount
        if try indexFile.size() < mainNeeded {
            // Read-only, a short index is expected only while the journal is not applied.
            guard readOnly, indexHeader.c != checkpoint.sequence else {
                throw PogrebError.corrupted(
                    file: path + "/" + DatabaseFiles.index, offset: try indexFile.size(),
                    "the index is shorter than its \(checkpoint.bucketCount) buckets")
            }
            mappedMain = UInt64(max(0, (try indexFile.size() - BucketID.headerPageSize) / 64))
        }
        if try overflowFile.size() < overflowNeeded {
            guard readOnly, indexHeader.c != checkpoint.sequence else {
                throw PogrebError.corrupted(
                    file: path + "/" + DatabaseFiles.overflow, offset: try overflowFile.size(),
                    "the overflow file is shorter than its \(checkpoint.overflowCount) buckets")
            }
            mappedOverflow = UInt64(max(0, (try overflowFile.size() - BucketID.headerPageSize) / 64))
        }
        let (mainRegion, overflowRegion) = try mapIndex(
            indexFile: indexFile, overflowFile: overflowFile, bucketCount: mappedMain, overflowCount: mappedOverflow)
        var index = HashIndex(
            bucketCount: checkpoint.bucketCount, overflowCount: checkpoint.overflowCount, freeHead: checkpoint.freeHead,
            keyCount: checkpoint.keyCount)
        index.mainRegion = mainRegion
        index.overflowRegion = overflowRegion
        index.mappedMainCount = mappedMain
        index.mappedOverflowCount = mappedOverflow
        index.directory = path
        for (bucketID, bucket) in pendingImages { index.dirty[bucketID] = bucket }
        // A writer trusts the files from here on: check every bucket once (a flipped bit found
        // here leads the open to rebuild the index from the log, see Database.open).
        if !readOnly { try index.verifyAll() }
        return (checkpoint, id, index, indexFile, overflowFile)
    }

    /// Checks that the journal of `checkpoint` holds every bucket the index files lack: a split
    /// marks the main bucket it adds as changed, and a chain the overflow bucket it takes, so each
    /// bucket added since the files were written is in the next checkpoint's journal. A
    /// checkpoint that names more buckets is damaged (its checksums may still match), and redoing
    /// it would grow the files (and map them, and size the index check's bitmap) to a size read
    /// from that damage. Reads both files' sizes (`fstat`).
    /// - Throws: `corrupted` naming the checkpoint file, so the open falls back to the checkpoint
    ///   the index names, as for any journal that cannot be read.
    private static func checkJournalHoldsNewBuckets(
        _ checkpoint: Checkpoint, indexFile: any StorageFile, overflowFile: any StorageFile, path: String
    ) throws(PogrebError) {
        for (overflow, file, count) in [
            (false, indexFile, checkpoint.bucketCount), (true, overflowFile, checkpoint.overflowCount),
        ] {
            let filed = UInt64(max(0, (try file.size() - BucketID.headerPageSize) / Int64(Bucket.size)))
            guard count > filed else { continue }
            var journaled = Set<UInt64>()
            for (id, _) in checkpoint.changedBuckets where id.isOverflow == overflow && id.number >= filed {
                journaled.insert(id.number)
            }
            guard UInt64(journaled.count) < count - filed else { continue }
            let name = path + "/" + DatabaseFiles.checkpoint(sequence: checkpoint.sequence)
            let kind = overflow ? "overflow buckets" : "main buckets"
            let fileName = overflow ? DatabaseFiles.overflow : DatabaseFiles.index
            throw PogrebError.corrupted(
                file: name, offset: Int64(FileHeader.size),
                "the checkpoint names \(count) \(kind), but \(fileName) holds \(filed) and the journal "
                    + "\(journaled.count) more")
        }
    }

    /// Writes a journal's buckets into the index files, with the overflow file's header naming
    /// the checkpoint (`pwrite`s, `ftruncate` upward, `fdatasync` of both files), then the index
    /// header that names it (`pwrite`, `fdatasync`). Idempotent: opening redoes it when a crash
    /// interrupted it.
    static func applyJournal(
        _ checkpoint: Checkpoint, indexFile: any StorageFile, overflowFile: any StorageFile, databaseID: [UInt8],
        layout: LogLayout
    ) throws(PogrebError) {
        let mainSize = BucketID.fileOffset(ofNumber: checkpoint.bucketCount)
        if try indexFile.size() < mainSize { try indexFile.truncate(to: mainSize) }
        let overflowSize = BucketID.fileOffset(ofNumber: checkpoint.overflowCount)
        if try overflowFile.size() < overflowSize { try overflowFile.truncate(to: overflowSize) }
        // The overflow file's header names this checkpoint from the first write on: until the
        // index header does too, an open redoes the journal and accepts either sequence there.
        try overflowFile.write(
            FileHeader(
                kind: .overflow, databaseID: databaseID, a: checkpoint.hashSeed, b: UInt64(layout.offsetBits),
                c: checkpoint.sequence
            ).encoded(), at: 0)
        // Coalesce runs of consecutive buckets into one pwrite each.
        var runStart: UInt64 = 0
        var runBytes: [UInt8] = []
        var runIsOverflow = false
        var lastID: UInt64 = 0
        func flushRun() throws(PogrebError) {
            guard !runBytes.isEmpty else { return }
            let file = runIsOverflow ? overflowFile : indexFile
            try file.write(runBytes, at: BucketID.fileOffset(ofNumber: runStart))
            runBytes.removeAll(keepingCapacity: true)
        }
        for (id, bucket) in checkpoint.changedBuckets {
            let isOverflow = id.isOverflow
            let number = id.number
            if runBytes.isEmpty || isOverflow != runIsOverflow || id.rawValue != lastID &+ 1
                || runBytes.count >= 1 << 20
            {
                try flushRun()
                runStart = number
                runIsOverflow = isOverflow
            }
            var writer = ByteWriter(capacity: 64)
            bucket.append(to: &writer, id: id)
            runBytes.append(contentsOf: writer.bytes)
            lastID = id.rawValue
        }
        try flushRun()
        try indexFile.sync()
        try overflowFile.sync()
        let header = FileHeader(
            kind: .index, databaseID: databaseID, a: checkpoint.hashSeed, b: UInt64(layout.offsetBits),
            c: checkpoint.sequence)
        try indexFile.write(header.encoded(), at: 0)
        try indexFile.sync()
    }

    /// Maps the buckets of both index files (`mmap`, `MADV_RANDOM`).
    static func mapIndex(
        indexFile: any StorageFile, overflowFile: any StorageFile, bucketCount: UInt64, overflowCount: UInt64
    ) throws(PogrebError) -> (MappedRegion, MappedRegion) {
        let main = try indexFile.map(length: Int(BucketID.fileOffset(ofNumber: bucketCount)), randomAccess: true)
        let overflow = try overflowFile.map(
            length: Int(BucketID.fileOffset(ofNumber: overflowCount)), randomAccess: true)
        return (main, overflow)
    }
}
