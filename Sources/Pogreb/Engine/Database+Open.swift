import Logging
import Synchronization

extension Database {
    package static func open(
        fileSystem base: any FileSystem, options: Options = Options()
    ) throws(PogrebError) -> Database {
        // Every change from here on, recovery's included, latches its failure.
        let fileSystem = LatchingFileSystem(wrapping: base)
        try options.checkSegmentSize()
        try fileSystem.prepareDirectory(create: !options.readOnly && options.createIfMissing)
        var names = try fileSystem.listFiles().filter { !$0.hasPrefix(".") }
        for name in names where !DatabaseFiles.isOurs(name) {
            throw PogrebError.notOurs("\(fileSystem.displayPath)/\(name)")
        }
        let lock = try fileSystem.lockDirectory(exclusive: !options.readOnly)
        // A writer's next checkpoint must be able to write its slot; a reader routes around it.
        if !options.readOnly { try checkSlotsAreWritable(fileSystem: fileSystem) }
        names = try fileSystem.listFiles().filter { !$0.hasPrefix(".") }
        let hasCheckpoint = names.contains { $0.hasPrefix("checkpoint-") }
        if !hasCheckpoint {
            // An earlier build's lock file is no part of a creation: left alone.
            let leftovers = names.filter { $0 != DatabaseFiles.lock }
            if !leftovers.isEmpty {
                // Either a creation that was interrupted, or a database whose checkpoints are
                // gone. Only the first may be cleared, and only if no segment holds a record.
                for name in leftovers {
                    // A creation writes our magic first: anything else is not ours to remove.
                    let file = try fileSystem.open(name, .readOnly)
                    defer { file.close() }
                    let head = try file.readExactly(count: Int(min(try file.size(), 8)), at: 0)
                    let magic = Array("PGRB-".utf8).prefix(head.count)
                    guard head.allSatisfy({ $0 == 0 }) || Array(head.prefix(magic.count)) == Array(magic) else {
                        throw PogrebError.notOurs("\(fileSystem.displayPath)/\(name)")
                    }
                }
                for name in leftovers where DatabaseFiles.segmentSequence(of: name) != nil {
                    let file = try fileSystem.open(name, .readOnly)
                    defer { file.close() }
                    if try file.size() > Int64(FileHeader.size) {
                        throw PogrebError(
                            .corrupted,
                            "\(fileSystem.displayPath) holds segments but no checkpoint file; run `pogreb repair` "
                                + "to rebuild the index from the log"
                        )
                    }
                }
                guard !options.readOnly else {
                    throw PogrebError(
                        .notADatabase,
                        "\(fileSystem.displayPath) holds an unfinished database (its creation was interrupted); "
                            + "open it for writing once to finish it"
                    )
                }
                for name in leftovers { try fileSystem.remove(name) }
                names = []
            } else if options.readOnly || !options.createIfMissing {
                throw PogrebError(.notADatabase, "\(fileSystem.displayPath) holds no database")
            }
            try create(fileSystem: fileSystem, options: options)
            return try load(fileSystem: fileSystem, options: options, lock: lock)
        }
        do throws(PogrebError) {
            return try load(fileSystem: fileSystem, options: options, lock: lock)
        } catch  where error.isIndexDamage && !options.readOnly {
            // The log is the truth: rebuild the index from it, then open normally.
            let report = try rebuild(fileSystem: fileSystem)
            let database = try load(
                fileSystem: fileSystem, options: options, lock: lock,
                rebuilt: "\(error.message) — \(report.description)")
            database.log(
                .warning, "rebuilt the index from the log",
                metadata: ["cause": "\(error.message)", "report": "\(report.description)"])
            return database
        }
    }

    /// Opens an existing database: checkpoint, index redo, segments, tail replay.
    static func load(
        fileSystem: LatchingFileSystem, options: Options, lock: any DirectoryLock, rebuilt: String? = nil
    ) throws(PogrebError) -> Database {
        let readOnly = options.readOnly
        let (checkpoint, id, index, indexFile, overflowFile):
            (Checkpoint, [UInt8], HashIndex, any StorageFile, any StorageFile)
        do throws(PogrebError) {
            (checkpoint, id, index, indexFile, overflowFile) = try loadIndex(fileSystem: fileSystem, readOnly: readOnly)
        } catch  where error.code == .corrupted && !error.isNotARegularFile {
            var damaged = error
            damaged.isIndexDamage = true
            throw damaged
        }

        return try loadSegments(
            fileSystem: fileSystem, options: options, lock: lock, checkpoint: checkpoint, id: id, index: index,
            indexFile: indexFile, overflowFile: overflowFile, rebuilt: rebuilt)
    }

    static func loadSegments(
        fileSystem: LatchingFileSystem, options: Options, lock: any DirectoryLock, checkpoint: Checkpoint, id: [UInt8],
        index: HashIndex, indexFile: any StorageFile, overflowFile: any StorageFile, rebuilt: String?
    ) throws(PogrebError) -> Database {
        let readOnly = options.readOnly
        let layout = LogLayout(offsetBits: checkpoint.offsetBits)
        let path = fileSystem.displayPath

        // Segments: the checkpoint's, plus newer ones (the tail); older unknown ones are leftovers
        // of a compaction whose deletion a crash interrupted.
        let manifest = Dictionary(checkpoint.segments.map { ($0.sequence, $0) }, uniquingKeysWith: { a, _ in a })
        var found: [UInt64: String] = [:]
        for name in try fileSystem.listFiles() {
            if let sequence = DatabaseFiles.segmentSequence(of: name) { found[sequence] = name }
        }
        var segments: [UInt32: Segment] = [:]
        var ordered: [Segment] = []
        for entry in checkpoint.segments {
            guard found[entry.sequence] != nil else {
                throw PogrebError(
                    .corrupted,
                    "\(path)/\(DatabaseFiles.segment(sequence: entry.sequence)) is missing; the checkpoint lists "
                        + "it. Restore it from a backup, or run `pogreb repair` to keep what the other segments hold."
                )
            }
        }
        var leftovers: [String] = []
        var droppedSegments: [String] = []
        // Each segment's header is checked here, one file open at a time: only the newest stays
        // open (the writer's active segment); the others open on first read, through the cache.
        var newestFile: (any StorageFile)?
        for sequence in found.keys.sorted() {
            guard let name = found[sequence] else { continue }
            let entry = manifest[sequence]
            if entry == nil && sequence <= checkpoint.positionSegment {
                // Emptied by a compaction, removed below: but only if it is one of ours.
                let file = try fileSystem.open(name, .readOnly)
                defer { file.close() }
                let header = try DatabaseFiles.readHeader(of: file, expected: .segment, path: path + "/" + name)
                guard header.databaseID == id else {
                    throw PogrebError.otherDatabase("\(path)/\(name)")
                }
                leftovers.append(name)
                continue
            }
            let file = try fileSystem.open(name, readOnly ? .readOnly : .readWrite)
            var keepOpen = false
            defer { if !keepOpen { file.close() } }
            let size = try file.size()
            let headerBytes = try file.readExactly(count: Int(min(size, Int64(FileHeader.size))), at: 0)
            let header: FileHeader
            do throws(PogrebError) {
                header = try FileHeader.decode(headerBytes, expected: .segment, file: path + "/" + name)
            } catch {
                // A newest segment whose header never made it to disk — an interrupted rotation.
                // Nothing in it was ever synced (a sync would have made the header durable).
                if entry == nil, sequence == found.keys.max(), error.code == .corrupted,
                    size <= Int64(FileHeader.size) || headerBytes.allSatisfy({ $0 == 0 })
                {
                    droppedSegments.append(
                        "\(path)/\(name): dropped the whole segment (\(size) bytes): its header never reached the disk")
                    file.close()
                    if !readOnly { try fileSystem.remove(name) }
                    continue
                }
                throw error
            }
            guard header.databaseID == id else {
                throw PogrebError.otherDatabase("\(path)/\(name)")
            }
            guard header.a == sequence, header.b <= UInt64(layout.maxFileNumber) else {
                throw PogrebError.corrupted(
                    file: path + "/" + name, offset: 32,
                    "the header names sequence \(header.a), file number \(header.b)")
            }
            let segment = Segment(
                sequence: sequence, fileNumber: UInt32(header.b), fileName: name, name: path + "/" + name, size: size)
            if let entry {
                guard entry.fileNumber == segment.fileNumber, size >= entry.size else {
                    throw PogrebError.corrupted(
                        file: path + "/" + name, offset: size,
                        "the segment is shorter (\(size) bytes) than the checkpoint recorded (\(entry.size))")
                }
                segment.deadBytes = entry.deadBytes
                // Bytes past the checkpoint's record of this segment are replayed below;
                // only the checkpoint's position segment may have any.
                if sequence != checkpoint.positionSegment { segment.size = entry.size }
            }
            guard segments[segment.fileNumber] == nil else {
                throw PogrebError.corrupted(
                    file: path + "/" + name, offset: 40, "file number \(segment.fileNumber) is used by two segments")
            }
            segments[segment.fileNumber] = segment
            ordered.append(segment)
            newestFile?.close()
            newestFile = file
            keepOpen = true
        }
        guard let newest = ordered.last, let newestFile else {
            throw PogrebError(.corrupted, "\(path) has no segment file")
        }
        // The newest segment is open from here on (writable for a writer: recovery may cut it).
        newest.publish(SegmentHandle(file: newestFile, region: nil))

        // A miss maps the segment it opens while the replay runs, whatever the file-access mode,
        // so the key comparisons and bucket splits of the replay read memory, not one pread each.
        let cache = SegmentCache(
            fileSystem: fileSystem, databaseID: id, limit: options.maxOpenSegments, maps: true)
        var state = SharedState(
            index: index, segments: SegmentTable(segments), active: nil, cache: cache, layout: layout,
            hashSeed: checkpoint.hashSeed)
        var writerState = WriterState(
            indexFile: readOnly ? nil : indexFile, overflowFile: readOnly ? nil : overflowFile,
            nextSequence: max(checkpoint.nextSegmentSequence, newest.sequence + 1),
            checkpointSequence: checkpoint.sequence)
        if readOnly {
            indexFile.close()
            overflowFile.close()
        }

        // Replay the tail: from the checkpoint position to the end of the newest segment.
        let replay = try Recovery.replay(
            state: &state, segments: ordered, from: (checkpoint.positionSegment, checkpoint.positionOffset),
            readOnly: readOnly)
        let report = OpenReport(
            replayedRecords: replay.records, torn: droppedSegments + replay.torn, indexRebuild: rebuilt)
        writerState.logBytesSinceCheckpoint = replay.bytes
        // The replayed tail was written by an earlier process that may never have synced it:
        // count it as appended, so that the first sync() syncs the active segment even when
        // nothing is written before it (an idle sync costs no fdatasync only once one ran).
        writerState.appended = UInt64(max(0, replay.bytes))

        // The replay's mappings go (they may run past a segment's records); from now on sealed
        // segments open on first read, mapped only in mmap mode. The newest becomes the active
        // one for a writer, open and, in mmap mode, mapped.
        _ = cache.removeAll()
        cache.setMaps(options.fileAccess == .mmap)
        for segment in ordered.dropLast() {
            segment.isSealed = true
        }
        if readOnly {
            newest.isSealed = true
        } else {
            state.active = newest
            state.bufferStart = newest.size
            let region =
                options.fileAccess == .mmap && newest.size > Int64(FileHeader.size)
                ? try newestFile.map(length: Int(newest.size), randomAccess: true) : nil
            newest.publish(SegmentHandle(file: newestFile, region: region))
        }
        if !readOnly {
            for name in leftovers { try fileSystem.remove(name) }
            if !leftovers.isEmpty || !replay.torn.isEmpty || !droppedSegments.isEmpty { try fileSystem.syncDirectory() }
        }
        let database = Database(
            fileSystem: fileSystem, options: options, databaseID: id, layout: layout, hashSeed: checkpoint.hashSeed,
            shared: state, writer: writerState, opened: report, lock: lock)
        database.log(
            .info, "opened",
            metadata: [
                "records_replayed": "\(replay.records)", "segments": "\(ordered.count)",
                "keys": "\(checkpoint.keyCount)",
                "read_only": "\(readOnly)",
            ])
        for line in droppedSegments + replay.torn { database.log(.warning, "cut a torn tail: \(line)") }
        database.startBackgroundWork()
        return database
    }
}
