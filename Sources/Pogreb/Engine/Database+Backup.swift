import Synchronization

/// What ``Database/backup(to:replacing:)`` did.
public struct BackupReport: Sendable {
    /// Whether an earlier backup (a database) at the destination was replaced.
    public var replacedExisting: Bool
    /// Where the replaced database was left, whole, because a reader still had it open or
    /// something not ours appeared in it; `nil` when it was deleted or nothing was replaced.
    public var oldDatabaseLeftAt: String?
}

extension Database {
    /// Copies the database, index included, to the directory `path`, while readers and the
    /// writer go on. The copy holds exactly the data as of the moment the call began, and opens
    /// with nothing to replay.
    ///
    /// The copy is made in a sibling staging directory `<path>.backup-<random>` and published
    /// only once complete, so a directory at `path` that opens is a finished backup:
    /// 1. Under the writer lock, a checkpoint, then a copy of the index, overflow and checkpoint
    ///    files and of the list of segments and their lengths (writes wait for this part, which
    ///    costs about one read and one write of the index).
    /// 2. With writes flowing again, each segment's bytes up to that length are copied: segments
    ///    only grow, so that prefix never changes, and no segment is deleted meanwhile:
    ///    ``compact()`` throws `busy` while a backup runs (background compaction skips its turn).
    /// 3. Every copied file is `fdatasync`ed, the staging directory
    ///    `fsync`ed; then it is renamed to `path` (or exchanged with the database there, when
    ///    `replacing`) and the parent directory `fsync`ed, as ``build(at:expectedCount:options:from:)``
    ///    publishes (``BackupReport`` says what became of a replaced backup; its dot-entries move
    ///    into the new one).
    ///
    /// A failure removes the staging directory and leaves `path` as it was. A crash leaves at
    /// most a `<path>.backup-<random>` directory, which holds only our files and may be deleted.
    /// - Parameters:
    ///   - path: the new directory; trailing slashes are dropped and a symbolic link is followed.
    ///   - replacing: whether a database already at `path` (an earlier backup) may be replaced;
    ///     only a directory of ours is ever replaced, never anything else.
    /// - Throws: `invalidArgument` when `path` is, or lies inside, this database's directory, or
    ///   when it exists and is not an empty directory (unless `replacing`); `notADatabase` when
    ///   `replacing` and `path` holds something that is not a database of ours; `locked` when a
    ///   writer holds the database at `path`; `readOnly` from a read-only open; `io`.
    @discardableResult
    public func backup(to path: String, replacing: Bool = false) throws(PogrebError) -> BackupReport {
        try backup(to: path, replacing: replacing, staging: { $0 })
    }

    /// ``backup(to:replacing:)`` with the paths in `tree` (``PosixDirectoryTree``: the real
    /// directories), writing the staging directory through `staging`'s wrapper of it (tests
    /// simulate power cuts in the tree and inject faults in the wrapper).
    package func backup(
        to path: String, replacing: Bool, tree: any DirectoryTree = PosixDirectoryTree(),
        staging wrap: (any FileSystem) -> any FileSystem
    ) throws(PogrebError) -> BackupReport {
        try checkBackupAllowed()
        let target = try PublishTarget(path, verb: "replace", tree: tree)
        // Into itself or below itself, the copy would become a foreign entry of the source.
        if let source = (fileSystem.base as? PosixFileSystem)?.directoryIdentity(), target.isSameOrInside(source) {
            throw PogrebError(
                .invalidArgument,
                "\(target.path) is the database's own directory or lies inside it; a backup goes elsewhere")
        }
        if replacing {
            _ = try target.inspect()
        } else {
            let contents: PublishTarget.Contents
            do throws(PogrebError) { contents = try target.inspect() } catch  where error.code == .notADatabase {
                contents = .ours  // foreign: refused below as not empty
            }
            guard contents != .ours else {
                throw PogrebError(
                    .invalidArgument,
                    "\(target.path) is not empty; a backup goes to a new or empty directory (or replaces an "
                        + "earlier backup when asked to)"
                )
            }
        }
        let staging = try target.makeStaging(tag: "backup")
        do throws(PogrebError) {
            try backup(to: wrap(tree.fileSystem(at: staging)))
        } catch {
            target.discard(staging: staging)
            throw error
        }
        let publication = try target.publish(staging: staging, replacing: replacing)
        return BackupReport(replacedExisting: publication.replaced, oldDatabaseLeftAt: publication.oldLeftAt)
    }

    /// Throws unless this open may take a backup: not inside a read's closure, not read-only.
    private func checkBackupAllowed() throws(PogrebError) {
        try refuseInsideRead("backup(to:)")
        guard !isReadOnly else {
            throw PogrebError(
                .readOnly,
                "backup needs a writable open (it writes a checkpoint first); copy the files of a read-only "
                    + "database with the writer stopped instead"
            )
        }
    }

    /// Fills the empty directory `destination` with the backup: steps 1 to 3 of
    /// ``backup(to:replacing:)`` up to the `fsync` of that directory (no publishing).
    package func backup(to destination: any FileSystem) throws(PogrebError) {
        try checkBackupAllowed()
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
                        to: destination, source: try leaseSegment(segment).file)
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
