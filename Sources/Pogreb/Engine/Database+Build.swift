import Synchronization

/// What ``Database/build(at:expectedCount:options:from:)`` did.
public struct BuildReport: Sendable {
    /// Pairs read from the sequence (a key given twice counts twice; the last value wins).
    public var pairs: Int
    /// Keys in the new database.
    public var keys: Int
    /// Whether an existing database at the path was replaced.
    public var replacedExisting: Bool
    /// Where the replaced database was left because a reader still had it open (delete it once
    /// that reader is done), or `nil` when it was deleted.
    public var oldDatabaseLeftAt: String?
}

extension Database {
    /// Builds a new database from `pairs` in one pass and switches it into place at `path`
    /// atomically, for the "rebuild, then serve read-only" use.
    ///
    /// The database is written to a sibling directory `<path>.building-<random>`: the log in
    /// large sequential appends while the keys' hashes and addresses are kept in memory (16 bytes
    /// a pair), then the index, sized for the final count, sorted by bucket and written in
    /// order — no bucket split, no journal, since a crash throws the sibling away.
    /// Then, everything synced, the directory takes the place of `path`: a plain `rename` when
    /// nothing is there, an atomic exchange (`renameat2(RENAME_EXCHANGE)` on Linux,
    /// `renamex_np(RENAME_SWAP)` on Darwin) when a database is, after which the old one is
    /// deleted. A process that opens `path` sees the old database or the new one, never a mix
    /// (an open that overlaps the exchange itself may fail with `notADatabase`; open again);
    /// readers of the old database may stay open during the switch and keep reading it until
    /// they close.
    /// - Parameters:
    ///   - path: the database directory to create or replace.
    ///   - expectedCount: about how many pairs, to reserve memory up front (optional).
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
            var builder = try BulkBuilder(fileSystem: fileSystem, options: options, expectedCount: expectedCount)
            for (key, value) in pairs { try builder.add(key: key, value: value) }
            let keys = try builder.finish()
            let count = builder.pairs

            let replacing = PathOperations.exists(path)
            var leftBehind: String?
            if replacing {
                // Only a database may be replaced, and only while no writer holds it. Readers may:
                // a shared lock succeeds beside theirs and fails against a writer's.
                let target = PosixFileSystem(directory: path)
                for name in try target.listFiles() where !name.hasPrefix(".") && !DatabaseFiles.isOurs(name) {
                    throw PogrebError.notOurs("\(path)/\(name)", refusing: "replace")
                }
                let lock = try target.lockDirectory(exclusive: false)
                do throws(PogrebError) { try PathOperations.exchange(staging, path) } catch {
                    lock.unlock()
                    throw error
                }
                lock.unlock()
                try PathOperations.syncParent(of: path)
                // The old database now sits at the staging name. Delete it unless a reader still
                // has it open (then it stays, for that reader, and the report names it).
                let old = PosixFileSystem(directory: staging)
                if let exclusive = try? old.lockDirectory(exclusive: true) {
                    exclusive.unlock()
                    try PathOperations.removeDirectory(staging)
                } else {
                    leftBehind = staging
                }
            } else {
                try PathOperations.rename(staging, path)
                try PathOperations.syncParent(of: path)
            }
            return BuildReport(pairs: count, keys: keys, replacedExisting: replacing, oldDatabaseLeftAt: leftBehind)
        } catch {
            if PathOperations.exists(staging) { try? PathOperations.removeDirectory(staging) }
            throw error
        }
    }
}
