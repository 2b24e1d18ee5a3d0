import Synchronization

/// What ``Database/build(at:expectedCount:options:from:)`` did.
public struct BuildReport: Sendable {
    /// Pairs read from the sequence (a key given twice counts twice; the last value wins).
    public var pairs: Int
    /// Keys in the new database.
    public var keys: Int
    /// Whether an existing database at the path was replaced.
    public var replacedExisting: Bool
}

extension Database {
    /// Builds a new database from `pairs` in one pass and switches it into place at `path`
    /// atomically, for the "rebuild, then serve read-only" use.
    ///
    /// The database is written to a sibling directory `<path>.building-<random>`: the log in
    /// large appends, the index sized up front from `expectedCount` (so no bucket ever splits)
    /// and written straight to its files with no journal, since a crash throws the sibling away.
    /// Then, everything synced, the directory takes the place of `path`: a plain `rename` when
    /// nothing is there, an atomic exchange (`renameat2(RENAME_EXCHANGE)` on Linux,
    /// `renamex_np(RENAME_SWAP)` on Darwin) when a database is, after which the old one is
    /// deleted. A process that opens `path` sees the old database or the new one, never a mix
    /// (an open that overlaps the exchange itself may fail with `notADatabase`; open again);
    /// readers of the old database may stay open during the switch and keep reading it until
    /// they close.
    /// - Parameters:
    ///   - path: the database directory to create or replace.
    ///   - expectedCount: about how many keys; sizing the index for them avoids splits.
    ///   - options: the new database's options (its segment size, mainly).
    ///   - pairs: the keys and values, read once; a key given twice keeps its last value.
    /// - Throws: `locked` when a writer holds the database at `path`; `notADatabase` when
    ///   `path` holds something else; what the pairs' sizes or the disk throw.
    @discardableResult
    public static func build(
        at path: String, expectedCount: Int = 0, options: Options = Options(),
        from pairs: some Sequence<([UInt8], [UInt8])>
    ) throws(PogrebError) -> BuildReport {
        var suffix = ""
        for byte in RawBytes.random(count: 6) { suffix += String(byte, radix: 16) }
        let staging = path + ".building-" + suffix
        let fileSystem = PosixFileSystem(directory: staging)
        do throws(PogrebError) {
            try fileSystem.prepareDirectory(create: true)
            try create(fileSystem: fileSystem, options: options, expectedKeys: expectedCount)
            var buildOptions = options
            buildOptions.readOnly = false
            buildOptions.syncPolicy = .never
            buildOptions.checkpointDirtyBuckets = .max
            buildOptions.checkpointLogBytes = .max
            buildOptions.compactionIntervalMilliseconds = nil
            buildOptions.writeBufferSize = max(options.writeBufferSize, 4 << 20)
            let database = try open(fileSystem: fileSystem, options: buildOptions)
            var count = 0
            var batch = WriteBatch()
            batch.operations.reserveCapacity(4096)
            func drain() throws(PogrebError) {
                try batch.withRawOperations { (raw) throws(PogrebError) in
                    _ = try unsafe database.apply(raw, atomic: false)
                }
                batch.operations.removeAll(keepingCapacity: true)
                // Bound memory: move changed buckets straight to the index files.
                let dirty = database.shared.withReadLock { $0.index.dirty.count }
                if dirty >= options.checkpointDirtyBuckets {
                    try database.writer.withLock { (w) throws(PogrebError) in try database.checkpoint(writer: &w, journal: false) }
                }
            }
            for (key, value) in pairs {
                batch.put(key, value)
                count += 1
                if batch.count >= 4096 { try drain() }
            }
            try drain()
            try database.writer.withLock { (w) throws(PogrebError) in try database.checkpoint(writer: &w, journal: false) }
            let keys = try database.count
            try database.close()

            let replacing = PathOperations.exists(path)
            if replacing {
                // Only a database may be replaced, and only while no writer holds it. Readers may:
                // a shared lock succeeds beside theirs and fails against a writer's.
                let target = PosixFileSystem(directory: path)
                for name in try target.listFiles() where !name.hasPrefix(".") && !isOurs(name) {
                    throw PogrebError(.notADatabase, "\(path)/\(name) is not a file of a Pogreb database; refusing to replace the directory. Nothing was changed.")
                }
                let lock = try target.lock(lockFileName, exclusive: false, create: false)
                defer { lock.unlock() }
                try PathOperations.exchange(staging, path)
                try PathOperations.syncParent(of: path)
                try PathOperations.removeDirectory(staging)
            } else {
                try PathOperations.rename(staging, path)
                try PathOperations.syncParent(of: path)
            }
            return BuildReport(pairs: count, keys: keys, replacedExisting: replacing)
        } catch {
            if PathOperations.exists(staging) { try? PathOperations.removeDirectory(staging) }
            throw error
        }
    }
}
