import Synchronization

extension Database {
    /// Copies the database, index included, to a new directory at `path`, while readers and the
    /// writer go on. The copy holds exactly the data as of the moment the call began, and opens
    /// with nothing to replay.
    ///
    /// Steps: under the writer lock, a checkpoint, then a copy of the index, overflow and
    /// checkpoint files and of the list of segments and their lengths (writes wait for this
    /// part, which costs about one read and one write of the index). Then, with writes flowing
    /// again, each segment's bytes up to that length are copied: segments only grow, so that
    /// prefix never changes, and no segment is deleted meanwhile: ``compact()`` throws `busy`
    /// while a backup runs (background compaction skips its turn).
    /// Every copied file is `fdatasync`ed, then the directory.
    /// - Throws: `invalidArgument` when `path` exists and is not an empty directory; `io`.
    public func backup(to path: String) throws(PogrebError) {
        try backup(to: PosixFileSystem(directory: path))
    }

    package func backup(to destination: any FileSystem) throws(PogrebError) {
        try refuseInsideRead("backup(to:)")
        guard !isReadOnly else {
            throw PogrebError(
                .readOnly,
                "backup needs a writable open (it writes a checkpoint first); copy the files of a read-only "
                    + "database with the writer stopped instead"
            )
        }
        try destination.prepareDirectory(create: true)
        guard try destination.listFiles().filter({ !$0.hasPrefix(".") }).isEmpty else {
            throw PogrebError(
                .invalidArgument, "\(destination.displayPath) is not empty; a backup goes to a new or empty directory")
        }
        let result: Result<Void, PogrebError> = maintenance.withLock { _ in
            do throws(PogrebError) {
                let segments = try writer.withLock { (w) throws(PogrebError) -> [(Segment, Int64)] in
                    try latch.check()
                    try checkpoint(writer: &w)
                    for name in [
                        DatabaseFiles.index, DatabaseFiles.overflow,
                        DatabaseFiles.checkpoint(sequence: w.checkpointSequence),
                    ] {
                        try copy(name, length: nil, from: fileSystem, to: destination)
                    }
                    return shared.withReadLock { state in
                        state.segments.values.sorted { $0.sequence < $1.sequence }.map { ($0, $0.size) }
                    }
                }
                for (segment, length) in segments {
                    try copy(
                        DatabaseFiles.segment(sequence: segment.sequence), length: length, from: fileSystem,
                        to: destination, source: segment.file)
                }
                try destination.syncDirectory()
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        try result.get()
    }

    /// Copies `length` bytes (all when nil) of `name` in 4 MiB steps, then `fdatasync`s the copy.
    private func copy(
        _ name: String, length: Int64?, from source: any FileSystem, to destination: any FileSystem,
        source file: (any StorageFile)? = nil
    ) throws(PogrebError) {
        let input: any StorageFile
        if let file { input = file } else { input = try source.open(name, .readOnly) }
        defer { if file == nil { input.close() } }
        let total: Int64
        if let length { total = length } else { total = try input.size() }
        let output = try destination.open(name, .createNew)
        defer { output.close() }
        var offset: Int64 = 0
        while offset < total {
            let count = Int(min(Int64(4 << 20), total - offset))
            let bytes = try input.readExactly(count: count, at: offset)
            try output.write(bytes, at: offset)
            offset += Int64(count)
        }
        try output.sync()
    }
}
