import Synchronization

/// What ``Database/build(at:expectedCount:options:from:)`` did.
public struct BuildReport: Sendable {
    /// Pairs read from the sequence (a key given twice counts twice; the last value wins).
    public var pairs: Int
    /// Keys in the new database.
    public var keys: Int
    /// Whether an existing database at the path was replaced (an empty directory does not count).
    public var replacedExisting: Bool
    /// Where the replaced database was left, whole, because a reader still had it open (delete it
    /// once that reader is done) or something not ours appeared in it; `nil` when it was deleted
    /// or nothing was replaced.
    public var oldDatabaseLeftAt: String?
}

extension Database {
    /// Builds a new database from `pairs` in one pass and switches it into place at `path`
    /// atomically, for the "rebuild, then serve read-only" use.
    ///
    /// First the target is checked (`Directory/PublishTarget.swift`): trailing slashes are dropped, a symbolic
    /// link at `path` is followed (the directory it points to is replaced; the link stays), and
    /// `path` must hold nothing, an empty directory, or a directory of ours — every entry not
    /// starting with `.` a regular file under one of our names that starts with our magic, the
    /// rule `open` applies (`notADatabase` otherwise, before anything is written).
    ///
    /// The database is written to a sibling directory `<path>.building-<random>`: the log in
    /// large sequential appends while the keys' hashes and addresses are kept in memory (16 bytes
    /// a pair), then the index, sized for the final count, sorted by bucket and written in
    /// order — no bucket split, no journal, since a crash throws the sibling away.
    /// Then, everything synced, the directory takes the place of `path`: a plain `rename` when
    /// nothing or an empty directory is there, an atomic exchange (`renameat2(RENAME_EXCHANGE)`
    /// on Linux, `renamex_np(RENAME_SWAP)` on Darwin) when a database is; then the parent
    /// directory is `fsync`ed. A process that opens `path` sees the old database or the new one,
    /// never a mix (an open that overlaps the exchange itself may fail with `notADatabase`; open
    /// again); readers of the old database may stay open during the switch and keep reading it
    /// until they close.
    ///
    /// After an exchange, the entries of the old directory that start with `.` (`.DS_Store`,
    /// `.git/`) are moved into the new one, and the old database is deleted — unless a reader
    /// still holds it, or something not ours appeared in it, in which case it stays whole at the
    /// sibling name and ``BuildReport/oldDatabaseLeftAt`` names it. Nothing that is not ours is
    /// ever moved away or deleted. A crash leaves at most a `<path>.building-<random>` directory
    /// holding only our files (the new database, or the old one after the exchange).
    /// - Parameters:
    ///   - path: the database directory to create or replace.
    ///   - expectedCount: about how many pairs, to reserve memory up front (optional).
    ///   - options: the new database's options (its segment size, mainly: 1 MiB ... 1 TiB, as for `open`).
    ///   - pairs: the keys and values, read once; a key given twice keeps its last value.
    /// - Throws: `locked` when a writer holds the database at `path`; `notADatabase` when
    ///   `path` holds something else; `invalidArgument` for a segment size out of range; what the
    ///   pairs' sizes or the disk throw. Before the switch a failure removes the staging
    ///   directory and leaves `path` as it was; after it, only a failed `fsync` of the parent is
    ///   thrown (saying so).
    @discardableResult
    public static func build(
        at path: String, expectedCount: Int = 0, options: Options = Options(),
        from pairs: some Sequence<([UInt8], [UInt8])>
    ) throws(PogrebError) -> BuildReport {
        try build(at: path, expectedCount: expectedCount, options: options, from: pairs, staging: { _ in })
    }

    /// ``build(at:expectedCount:options:from:)``, calling `staging` with the staging directory's
    /// path once it is created (before the first pair is read): the command-line tool removes
    /// exactly that directory when it abandons a build.
    package static func build(
        at path: String, expectedCount: Int = 0, options: Options = Options(),
        from pairs: some Sequence<([UInt8], [UInt8])>, staging announce: (String) -> Void
    ) throws(PogrebError) -> BuildReport {
        try build(
            at: path, expectedCount: expectedCount, options: options, from: pairs, tree: PosixDirectoryTree(),
            staging: announce, wrap: { $0 })
    }

    /// ``build(at:expectedCount:options:from:staging:)`` with the paths in `tree`
    /// (``PosixDirectoryTree``: the real directories), writing the staging directory through
    /// `wrap`'s wrapper of it (tests simulate power cuts in the tree and inject faults in the
    /// wrapper).
    package static func build(
        at path: String, expectedCount: Int = 0, options: Options = Options(),
        from pairs: some Sequence<([UInt8], [UInt8])>, tree: any DirectoryTree,
        staging announce: (String) -> Void = { _ in }, wrap: (any FileSystem) -> any FileSystem
    ) throws(PogrebError) -> BuildReport {
        try options.checkSegmentSize()
        let target = try PublishTarget(path, verb: "replace", tree: tree)
        _ = try target.inspect()  // refuse a foreign target before the work, not after
        let staging = try target.makeStaging(tag: "building")
        announce(staging)
        let keys: Int
        let count: Int
        do throws(PogrebError) {
            let fileSystem = wrap(tree.fileSystem(at: staging))
            var builder = try BulkBuilder(fileSystem: fileSystem, options: options, expectedCount: expectedCount)
            for (key, value) in pairs { try builder.add(key: key, value: value) }
            keys = try builder.finish()
            count = builder.pairs
        } catch {
            target.discard(staging: staging)
            throw error
        }
        let publication = try target.publish(staging: staging, replacing: true)
        return BuildReport(
            pairs: count, keys: keys, replacedExisting: publication.replaced, oldDatabaseLeftAt: publication.oldLeftAt)
    }
}
