import Synchronization

/// What ``Database/repair(at:)`` did.
public struct RepairReport: Sendable, CustomStringConvertible {
    /// Segments read.
    public var segments: Int
    /// Records replayed into the new index.
    public var records: Int
    /// Keys in the rebuilt index.
    public var keys: Int
    /// Torn tails cut off the newest segment, one line each.
    public var tornTails: [String]
    /// Damage in the newest segment that the repair cut off although valid records followed it,
    /// one line each: the file, the offset of the bad record and the bytes dropped after it.
    public var damageCut: [String] = []

    /// A summary: segments read, records replayed, keys, and one line per torn tail or damage cut.
    public var description: String {
        var text = "rebuilt the index from \(segments) segment(s): \(records) record(s) replayed, \(keys) key(s)"
        for line in tornTails { text += "\ncut a torn tail: \(line)" }
        for line in damageCut { text += "\ncut at a damaged record, dropping the records after it: \(line)" }
        return text
    }
}

extension Database {
    /// Rebuilds the index from the log, for a database whose index or checkpoints are damaged or
    /// missing. It only reads the segments (cutting a torn tail of the newest one, as opening
    /// does) and writes new index, overflow and checkpoint files. A damaged record in the newest
    /// segment that valid records follow (which `open` refuses as `corrupted`) is cut off with
    /// every record after it, and ``RepairReport/damageCut`` says so.
    ///
    /// The whole log is read first, so a damaged sealed segment fails the repair while the old
    /// files are untouched. The new index is then written under temporary names (`index.tmp`,
    /// `overflow.tmp`, `checkpoint.tmp`, each `fdatasync`ed, then the directory `fsync`ed) while
    /// the old files stay in force: a failure there (a full disk) removes the temporaries and
    /// leaves the database as it was. Last, `index.tmp` is renamed to `index.pgi`, `overflow.tmp`
    /// to `overflow.pgo` and `checkpoint.tmp` into the next checkpoint slot (the other slot is
    /// removed), with a directory `fsync` after each step; a crash or failure between them leaves
    /// index files whose hash seed differs from the checkpoint's, which a writable open rebuilds.
    /// - Throws: `locked` if a writer holds the directory; `corrupted` for a bad record in a
    ///   sealed segment (which no repair of the index can fix: restore that segment from a backup).
    public static func repair(at path: String) throws(PogrebError) -> RepairReport {
        try repair(fileSystem: PosixFileSystem(directory: path))
    }

    package static func repair(fileSystem: any FileSystem) throws(PogrebError) -> RepairReport {
        try fileSystem.prepareDirectory(create: false)
        for name in try fileSystem.listFiles() where !name.hasPrefix(".") && !DatabaseFiles.isOurs(name) {
            throw PogrebError.notOurs("\(fileSystem.displayPath)/\(name)", refusing: "repair")
        }
        let lock = try fileSystem.lockDirectory(exclusive: true)
        defer { lock.unlock() }
        return try rebuild(fileSystem: fileSystem, damage: .cut)
    }

    /// The rebuild itself; the caller holds the exclusive lock. `damage` says what to do with a
    /// damaged record in the newest segment that valid records follow: `repair` cuts there and
    /// reports it, the automatic rebuild of `open` refuses (only the user may drop records).
    static func rebuild(
        fileSystem: any FileSystem, damage: Recovery.DamagePolicy = .refuse
    ) throws(PogrebError) -> RepairReport {
        let path = fileSystem.displayPath
        // The rebuild removes and rewrites these names: never a directory or device put there.
        for name in [
            DatabaseFiles.checkpoint(slot: 0), DatabaseFiles.checkpoint(slot: 1), DatabaseFiles.creating,
            DatabaseFiles.index, DatabaseFiles.overflow,
        ] {
            try DatabaseFiles.requireRegularFileOrNothing(name, in: fileSystem)
        }
        var found: [(UInt64, String)] = []
        for name in try fileSystem.listFiles() {
            if let sequence = DatabaseFiles.segmentSequence(of: name) { found.append((sequence, name)) }
        }
        found.sort { $0.0 < $1.0 }
        guard !found.isEmpty else {
            throw PogrebError(.notADatabase, "\(path) holds no segment file: nothing to rebuild from")
        }

        var segments: [Segment] = []
        var databaseID: [UInt8]?
        var largest: Int64 = 0
        // One segment file open at a time: only the newest stays open (the replay may cut it);
        // the others open through the cache when the replay reads them.
        var newestFile: (any StorageFile)?
        for (index, (sequence, name)) in found.enumerated() {
            let file = try fileSystem.open(name, .readWrite)
            var keepOpen = false
            defer { if !keepOpen { file.close() } }
            let size = try file.size()
            let header: FileHeader
            let headerBytes = try file.readExactly(count: Int(min(size, Int64(FileHeader.size))), at: 0)
            do throws(PogrebError) {
                header = try FileHeader.decode(headerBytes, expected: .segment, file: path + "/" + name)
            } catch {
                // The same rule as opening: a newest segment whose header never reached the disk.
                if index == found.count - 1, error.code == .corrupted,
                    size <= Int64(FileHeader.size) || headerBytes.allSatisfy({ $0 == 0 })
                {
                    file.close()
                    try fileSystem.remove(name)
                    continue
                }
                throw error
            }
            if let databaseID, databaseID != header.databaseID {
                throw PogrebError(
                    .notADatabase,
                    "\(path)/\(name) belongs to another database than the other segments. Nothing was changed.")
            }
            databaseID = header.databaseID
            guard header.a == sequence, header.b <= UInt64(UInt32.max) else {
                throw PogrebError.corrupted(
                    file: path + "/" + name, offset: 32,
                    "the header names sequence \(header.a), file number \(header.b)")
            }
            largest = max(largest, size)
            segments.append(
                Segment(
                    sequence: sequence, fileNumber: UInt32(header.b), fileName: name, name: path + "/" + name,
                    size: size))
            newestFile?.close()
            newestFile = file
            keepOpen = true
        }
        guard let id = databaseID, let first = segments.first, let newestFile else {
            throw PogrebError(.corrupted, "\(path) holds no readable segment")
        }
        segments.last?.publish(SegmentHandle(file: newestFile, region: nil))
        // Keep the layout of the database when a readable file still records it.
        var offsetBits = LogLayout(segmentSize: max(largest, 1 << 30)).offsetBits
        if let (checkpoint, _) = try? newestCheckpoint(fileSystem: fileSystem) { offsetBits = checkpoint.offsetBits }
        let layout = LogLayout(offsetBits: offsetBits)
        var table: [UInt32: Segment] = [:]
        for segment in segments {
            guard segment.fileNumber <= layout.maxFileNumber, table[segment.fileNumber] == nil else {
                throw PogrebError.corrupted(
                    file: segment.name, offset: 40, "file number \(segment.fileNumber) is out of range or used twice")
            }
            table[segment.fileNumber] = segment
        }

        var generator = SystemRandomNumberGenerator()
        let seed = generator.next()
        var state = SharedState(
            index: HashIndex(bucketCount: HashIndex.initialBucketCount, overflowCount: 1, freeHead: 0, keyCount: 0),
            segments: SegmentTable(table), active: nil,
            cache: SegmentCache(
                fileSystem: fileSystem, databaseID: id, limit: Options().maxOpenSegments, maps: true),
            layout: layout, hashSeed: seed)
        defer { for handle in state.cache.removeAll() { handle.file.close() } }
        // Read the whole log first: a damaged sealed segment fails here, while the old index
        // and checkpoints are still in place.
        let outcome = try Recovery.replay(
            state: &state, segments: segments, from: (first.sequence, Int64(FileHeader.size)), readOnly: false,
            damage: damage)

        // The new index goes to temporary names while the old files stay in force, so a failure
        // here (a full disk) leaves the database as it was.
        // The next checkpoint sequence after the newest readable one (1 when none is, or when a
        // damaged one names an absurd sequence), so the new checkpoint is the newest.
        let previous = (try? newestCheckpoint(fileSystem: fileSystem))?.0.sequence ?? 0
        let sequence = previous < UInt64(1) << 62 ? previous + 1 : 1
        let newest = segments.last
        // Every bucket is written with its checksum, the ones no record reached included.
        state.index.addUntouchedMainBuckets()
        let checkpoint = Checkpoint(
            sequence: sequence, bucketCount: state.index.bucketCount, overflowCount: state.index.overflowCount,
            freeHead: state.index.freeHead, keyCount: state.index.keyCount,
            positionSegment: newest?.sequence ?? 1, positionOffset: newest?.size ?? Int64(FileHeader.size),
            nextSegmentSequence: (newest?.sequence ?? 1) + 1, hashSeed: seed, offsetBits: offsetBits,
            segments: segments.map {
                .init(sequence: $0.sequence, fileNumber: $0.fileNumber, size: $0.size, deadBytes: $0.deadBytes)
            },
            changedBuckets: state.index.dirty.sortedByID())
        let temporaries = [DatabaseFiles.indexTemporary, DatabaseFiles.overflowTemporary, DatabaseFiles.creating]
        do throws(PogrebError) {
            for name in temporaries { try fileSystem.remove(name) }  // left by an interrupted repair
            let indexFile = try fileSystem.open(DatabaseFiles.indexTemporary, .createNew)
            defer { indexFile.close() }
            try indexFile.write(
                FileHeader(kind: .index, databaseID: id, a: seed, b: UInt64(offsetBits), c: 0).encoded(), at: 0)
            let overflowFile = try fileSystem.open(DatabaseFiles.overflowTemporary, .createNew)
            defer { overflowFile.close() }
            try overflowFile.write(
                FileHeader(kind: .overflow, databaseID: id, a: seed, b: UInt64(offsetBits), c: 0).encoded(), at: 0)
            try applyJournal(
                checkpoint, indexFile: indexFile, overflowFile: overflowFile, databaseID: id, layout: layout)
            let checkpointFile = try fileSystem.open(DatabaseFiles.creating, .createNew)
            defer { checkpointFile.close() }
            try checkpointFile.write(checkpoint.encoded(databaseID: id), at: 0)
            try checkpointFile.sync()
            try fileSystem.syncDirectory()
        } catch {
            for name in temporaries { try? fileSystem.remove(name) }
            throw error
        }

        // The switch: the index files first, then the checkpoint that names them, each rename
        // made durable before the next. Every state in between opens: index files with another
        // hash seed than the checkpoint in force are index damage, which a writable open rebuilds.
        try fileSystem.rename(DatabaseFiles.indexTemporary, to: DatabaseFiles.index)
        try fileSystem.syncDirectory()
        try fileSystem.rename(DatabaseFiles.overflowTemporary, to: DatabaseFiles.overflow)
        try fileSystem.syncDirectory()
        try fileSystem.rename(DatabaseFiles.creating, to: DatabaseFiles.checkpoint(sequence: sequence))
        try fileSystem.remove(DatabaseFiles.checkpoint(sequence: sequence &+ 1))  // older, or damaged
        try fileSystem.syncDirectory()
        return RepairReport(
            segments: segments.count, records: outcome.records, keys: Int(state.index.keyCount),
            tornTails: outcome.torn,
            damageCut: outcome.damageCut)
    }
}
