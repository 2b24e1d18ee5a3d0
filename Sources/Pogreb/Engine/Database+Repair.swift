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
    /// files are untouched. Then the old checkpoints are removed first, so a crash during the
    /// rest leaves a directory that opening refuses with a message to run the repair again.
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
        let lock = try fileSystem.lock(DatabaseFiles.lock, exclusive: true, create: true)
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
        for (index, (sequence, name)) in found.enumerated() {
            let file = try fileSystem.open(name, .readWrite)
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
                    sequence: sequence, fileNumber: UInt32(header.b), file: file, name: path + "/" + name, size: size))
        }
        guard let id = databaseID, let first = segments.first else {
            throw PogrebError(.corrupted, "\(path) holds no readable segment")
        }
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
            segments: SegmentTable(table), active: nil, layout: layout, hashSeed: seed)
        // Read the whole log first: a damaged sealed segment fails here, while the old index
        // and checkpoints are still in place.
        let outcome = try Recovery.replay(
            state: &state, segments: segments, from: (first.sequence, Int64(FileHeader.size)), readOnly: false,
            damage: damage)

        // From here on the old index is gone: remove the checkpoints first.
        for name in [
            "checkpoint-0.pgc", "checkpoint-1.pgc", DatabaseFiles.creating, DatabaseFiles.index, DatabaseFiles.overflow,
        ] {
            try fileSystem.remove(name)
        }
        try fileSystem.syncDirectory()

        let indexFile = try fileSystem.open(DatabaseFiles.index, .createNew)
        defer { indexFile.close() }
        try indexFile.write(
            FileHeader(kind: .index, databaseID: id, a: seed, b: UInt64(offsetBits), c: 0).encoded(), at: 0)
        let overflowFile = try fileSystem.open(DatabaseFiles.overflow, .createNew)
        defer { overflowFile.close() }
        try overflowFile.write(
            FileHeader(kind: .overflow, databaseID: id, a: seed, b: UInt64(offsetBits), c: 0).encoded(), at: 0)
        let newest = segments.last
        // Every bucket is written with its checksum, the ones no record reached included.
        state.index.addUntouchedMainBuckets()
        let checkpoint = Checkpoint(
            sequence: 1, bucketCount: state.index.bucketCount, overflowCount: state.index.overflowCount,
            freeHead: state.index.freeHead, keyCount: state.index.keyCount,
            positionSegment: newest?.sequence ?? 1, positionOffset: newest?.size ?? Int64(FileHeader.size),
            nextSegmentSequence: (newest?.sequence ?? 1) + 1, hashSeed: seed, offsetBits: offsetBits,
            segments: segments.map {
                .init(sequence: $0.sequence, fileNumber: $0.fileNumber, size: $0.size, deadBytes: $0.deadBytes)
            },
            changedBuckets: state.index.dirty.sorted { $0.key < $1.key }.map { (id: $0.key, bucket: $0.value) })
        try applyJournal(checkpoint, indexFile: indexFile, overflowFile: overflowFile, databaseID: id, layout: layout)
        try publishFirstCheckpoint(checkpoint, databaseID: id, fileSystem: fileSystem)
        for segment in segments { segment.file.close() }
        return RepairReport(
            segments: segments.count, records: outcome.records, keys: Int(state.index.keyCount),
            tornTails: outcome.torn,
            damageCut: outcome.damageCut)
    }
}
