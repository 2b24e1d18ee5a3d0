/// The directory that a finished database is published to — by ``Database/build(at:expectedCount:options:from:)``,
/// `pogreb import --replace` (which calls it) and ``Database/backup(to:replacing:)`` — and the one
/// place that decides what may be there, how the new database takes its place, and what becomes
/// of the old one.
///
/// - The path is taken with trailing slashes dropped; its parent directory is resolved
///   (`realpath`), and when the path itself is a symbolic link the link is followed: the
///   directory it points to is the target (the link stays as it is).
/// - What may be replaced (``inspect()``): nothing, an empty directory, or a directory whose
///   every entry not starting with `.` is a regular file of ours under its name
///   (``DatabaseFiles/isOurs(_:)``) whose first bytes are our magic or zeros — the rule `open`
///   applies to a directory without a checkpoint — with `pogreb.lock` empty, as earlier versions
///   created it.
///   Anything else (a foreign name, a subdirectory, a symbolic link, a user's own `index.pgi`) is
///   refused with `notADatabase` before anything is written.
/// - Entries starting with `.` (`.DS_Store`, `.notes`, `.git/`) are not ours and are kept: after
///   the switch they are moved (`rename`) into the new directory at the path.
/// - The new database is written in a sibling staging directory `<path>.<tag>-<12 hex digits>`
///   (same parent, so the switch is one `rename`), which ``publish(staging:replacing:)`` moves into
///   place. A staging directory left by a crash holds only our files and may be deleted.
struct PublishTarget {
    /// The resolved target path.
    let path: String
    /// The parent directory of ``path``.
    let parent: String
    /// What the caller does, for messages ("replace", "back up into").
    let verb: String
    /// Where the paths are: ``PosixDirectoryTree`` (the syscalls named below), or a simulation in tests.
    let tree: any DirectoryTree

    /// What is at the path.
    enum Contents: Equatable {
        /// Nothing: the new database is renamed into place.
        case nothing
        /// An empty directory: the new database is renamed over it.
        case emptyDirectory
        /// A directory of ours — a database, or only dot-entries: replaced by an exchange.
        case ours
    }

    /// Resolves `given` as described on the type.
    /// - Throws: `invalidArgument` for an empty path or `/`; `io` when the parent is missing;
    ///   `notADatabase` for a symbolic link that points nowhere.
    init(_ given: String, verb: String, tree: any DirectoryTree = PosixDirectoryTree()) throws(PogrebError) {
        self.verb = verb
        self.tree = tree
        var trimmed = given
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
        guard !trimmed.isEmpty, trimmed != "/" else {
            throw PogrebError(.invalidArgument, "\"\(given)\" cannot hold a database: give a directory path")
        }
        let (parentPart, name) = Self.split(trimmed)
        var resolved: String
        if name == "." || name == ".." {
            resolved = try tree.resolve(trimmed)
        } else {
            let parent = try tree.resolve(parentPart)
            resolved = (parent == "/" ? "" : parent) + "/" + name
            if try tree.kind(of: resolved) == .symbolicLink {
                do throws(PogrebError) { resolved = try tree.resolve(resolved) } catch {
                    throw PogrebError(
                        .notADatabase,
                        "\(resolved) is a symbolic link that cannot be followed (\(error.message)); refusing to "
                            + "\(verb) it. Nothing was changed.")
                }
            }
        }
        guard resolved != "/" else {
            throw PogrebError(.invalidArgument, "\"\(given)\" names the root directory, which cannot hold a database")
        }
        path = resolved
        parent = Self.split(resolved).parent
    }

    /// The parent and the last component of `path` (no trailing slash).
    private static func split(_ path: String) -> (parent: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let parent = slash == path.startIndex ? "/" : String(path[..<slash])
        return (parent, String(path[path.index(after: slash)...]))
    }

    /// What is at the path now: one `lstat`, a listing, and for each entry an `lstat` and a read of
    /// its first 8 bytes.
    /// - Throws: `notADatabase` naming the first entry that is not ours (or the path, when it is
    ///   not a directory); `io` when the directory cannot be read.
    func inspect() throws(PogrebError) -> Contents {
        switch try tree.kind(of: path) {
        case .missing:
            return .nothing
        case .directory:
            let entries = try tree.entries(of: path)
            if entries.isEmpty { return .emptyDirectory }
            try Self.checkOurs(path, entries: entries, verb: verb, tree: tree)
            return .ours
        default:
            throw PogrebError(
                .notADatabase, "\(path) is not a directory; refusing to \(verb) it. Nothing was changed.")
        }
    }

    /// Checks that every entry of the directory `directory` not starting with `.` is a regular file of ours.
    private static func checkOurs(
        _ directory: String, entries: [(name: String, kind: PathEntryKind)], verb: String, tree: any DirectoryTree
    ) throws(PogrebError) {
        let magic = Array("PGRB-".utf8)
        for (name, kind) in entries where !name.hasPrefix(".") {
            let file = directory + "/" + name
            guard DatabaseFiles.isOurs(name), kind == .regularFile else {
                throw PogrebError.notOurs(file, refusing: verb)
            }
            let (size, head) = try tree.head(of: file, count: 8)
            let ours =
                name == DatabaseFiles.lock
                ? size == 0
                : head.allSatisfy { $0 == 0 } || Array(head.prefix(magic.count)) == Array(magic.prefix(head.count))
            guard ours else { throw PogrebError.notOurs(file, refusing: verb) }
        }
    }

    /// Whether the path is, or lies inside, the directory `identity` names: the path itself when
    /// it exists and each directory above it are compared by device and inode (`stat` each).
    func isSameOrInside(_ identity: FileIdentity) -> Bool {
        var current = path
        while true {
            if tree.identity(of: current) == identity { return true }
            if current == "/" { return false }
            current = Self.split(current).parent
        }
    }

    /// Creates a new staging directory `<path>.<tag>-<12 hex digits>` beside the path (`mkdir`,
    /// which fails rather than reuse anything already there).
    func makeStaging(tag: String) throws(PogrebError) -> String {
        var suffix = ""
        for byte in RawBytes.random(count: 6) {
            let digits = String(byte, radix: 16)
            suffix += digits.count == 1 ? "0" + digits : digits
        }
        let staging = path + "." + tag + "-" + suffix
        try tree.makeDirectory(staging)
        return staging
    }

    /// Removes a staging directory this process created and that was not switched into place:
    /// its files, then the directory. Best effort; what cannot be removed stays (it is ours, and a
    /// later run or the user may delete it).
    func discard(staging: String) {
        guard (try? tree.kind(of: staging)) == .directory else { return }
        let fileSystem = tree.fileSystem(at: staging)
        for name in (try? fileSystem.listFiles()) ?? [] where DatabaseFiles.isOurs(name) {
            try? fileSystem.remove(name)
        }
        try? tree.removeEmptyDirectory(staging)
    }

    /// What ``publish(staging:replacing:)`` did.
    struct Publication {
        /// Whether a directory of ours was replaced.
        var replaced: Bool
        /// Where the replaced directory was left (a reader still had it open, or it held something
        /// that is not ours by the time it was to be deleted), or nil when it was deleted.
        var oldLeftAt: String?
    }

    /// Moves the finished database at `staging` (synced, its directory too) to the path.
    ///
    /// The path is inspected again first. Nothing or an empty directory there: `rename(staging,
    /// path)` (which replaces an empty directory atomically, and fails if something appeared).
    /// A directory of ours: only with `replacing`, and only while no writer holds it (a shared
    /// `flock` on the directory succeeds beside readers), an atomic exchange
    /// (``PathOperations/exchange(_:_:)``). Then the parent directory is `fsync`ed, and the old
    /// directory, now at the staging name, is disposed of (``disposeOfOld(at:)``).
    ///
    /// Before the switch, a failure removes `staging` and is thrown: the path is unchanged. After
    /// it, nothing is removed on failure: the only error thrown is a failed `fsync` of the parent,
    /// which says so and where the old directory is.
    /// - Throws: `invalidArgument` when the path holds a database and `replacing` is false;
    ///   `notADatabase` when it holds something that is not ours; `locked` when a writer holds it.
    func publish(staging: String, replacing: Bool) throws(PogrebError) -> Publication {
        let contents: Contents
        do throws(PogrebError) {
            contents = try inspect()
            switch contents {
            case .nothing, .emptyDirectory:
                try tree.rename(staging, path)
            case .ours:
                guard replacing else {
                    throw PogrebError(
                        .invalidArgument, "\(path) is not empty; ask to replace it, or give a new or empty directory")
                }
                // Readers may hold the old database: a shared lock succeeds beside theirs and
                // fails against a writer's.
                let lock = try tree.fileSystem(at: path).lockDirectory(exclusive: false)
                defer { lock.unlock() }
                try tree.exchange(staging, path)
            }
        } catch {
            discard(staging: staging)
            throw error
        }
        do throws(PogrebError) { try tree.syncParent(of: path) } catch {
            throw PogrebError(
                .io,
                "\(path) holds the new database, but the directory above it could not be synced (\(error.message)); "
                    + "a crash may undo the switch"
                    + (contents == .ours ? ". The old one is at \(staging)." : "."),
                underlying: error.underlying)
        }
        guard contents == .ours else { return Publication(replaced: false, oldLeftAt: nil) }
        return Publication(replaced: true, oldLeftAt: disposeOfOld(at: staging))
    }

    /// Disposes of a replaced directory, now at `old`: moves its dot-entries into the new
    /// directory at the path (`rename` each) and, when there were any, `fsync`s that directory;
    /// then, if an exclusive `flock` on the directory
    /// succeeds (no reader left) and every remaining entry is still a file of ours, removes them
    /// and the directory, and `fsync`s the parent. Never throws: anything that stops it leaves
    /// the directory where it is, whole but for the dot-entries already moved.
    /// - Returns: `old` when it was left, nil when it is gone.
    func disposeOfOld(at old: String) -> String? {
        guard let entries = try? tree.entries(of: old) else { return old }
        let moving = entries.filter { $0.name.hasPrefix(".") }
        for (name, _) in moving {
            do throws(PogrebError) { try tree.rename(old + "/" + name, path + "/" + name) } catch {
                return old
            }
        }
        // The moved entries must be durable in the new directory before the old one can go: a
        // rename is durable in the directory it enters only after that directory's `fsync`.
        if !moving.isEmpty {
            do throws(PogrebError) { try tree.fileSystem(at: path).syncDirectory() } catch { return old }
        }
        let fileSystem = tree.fileSystem(at: old)
        let lock: any DirectoryLock
        do throws(PogrebError) { lock = try fileSystem.lockDirectory(exclusive: true) } catch { return old }
        defer { lock.unlock() }
        guard let remaining = try? tree.entries(of: old),
            remaining.allSatisfy({ !$0.name.hasPrefix(".") }),
            (try? Self.checkOurs(old, entries: remaining, verb: verb, tree: tree)) != nil
        else { return old }
        for (name, _) in remaining {
            do throws(PogrebError) { try fileSystem.remove(name) } catch { return old }
        }
        lock.unlock()
        do throws(PogrebError) { try tree.removeEmptyDirectory(old) } catch { return old }
        try? tree.syncParent(of: old)
        return nil
    }
}
