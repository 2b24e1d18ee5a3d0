#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Pogreb
import Synchronization

/// A parent directory held in memory whose entries are directories, each a ``MemoryFileSystem``:
/// the ``DirectoryTree`` that a backup or a bulk build publishes into, in tests.
///
/// Like ``MemoryFileSystem`` for its files, it remembers what a disk would still hold after a
/// power cut: the parent's entries as of its last `fsync` (``syncParent(of:)`` on one of them),
/// and the operations since — `mkdir`, `rmdir`, `rename`, exchange — in order.
/// ``crashImage(choosing:)`` keeps or loses each of those on its own, and each directory in it
/// is a crash image of its own (``MemoryFileSystem/crashImage(choosing:)``). A file renamed from
/// one directory into another is a removal in the first and a creation in the second, each
/// durable only after its own directory's `fsync` (the POSIX promise, stricter than a file system
/// that journals a rename as one transaction); until the removal is durable the rename is atomic:
/// a state that lost both halves' files gets the file back under its old name. So the file may be
/// lost only when the first directory was synced (or removed) and the second was not.
///
/// Paths are `root`, `root/<directory>` and `root/<directory>/<file>`; nothing deeper, and no
/// symbolic links.
package final class MemoryDirectoryTree: DirectoryTree, @unchecked Sendable {
    // @unchecked Sendable: all mutable state is inside `state`, a Lock.
    /// The parent directory's path, absolute, without a trailing slash.
    package let root: String
    private let state = Lock(State())  // protects the entries (live and durable), the log, the observer

    private struct State {
        var live: [String: MemoryFileSystem] = [:]
        var durable: [String: MemoryFileSystem] = [:]
        var pending: [Change] = []
        var observer: (@Sendable (String) -> Void)?
        /// Files renamed from one directory into another, oldest first.
        var moves: [Move] = []
    }

    private struct Move {
        var source: MemoryFileSystem
        var name: String
        var target: MemoryFileSystem
        var targetName: String
        var storage: MemoryFile.Storage
    }

    private enum Change {
        case make(String, MemoryFileSystem)
        case remove(String)
        case rename(String, to: String)
        case exchange(String, String)
    }

    package init(root: String = "/data") {
        self.root = root
    }

    // MARK: Control

    /// Calls `observer` before every `fsync` of the parent and every sync of a file or of one of
    /// its directories (those there now and those made later), outside every lock, with a
    /// description of the sync: the sync points of a power-cut campaign.
    package func onSync(_ observer: (@Sendable (String) -> Void)?) {
        let directories = state.withLock { state -> [MemoryFileSystem] in
            state.observer = observer
            return Array(state.live.values)
        }
        for directory in directories { Self.install(observer, on: directory) }
    }

    private static func install(_ observer: (@Sendable (String) -> Void)?, on directory: MemoryFileSystem) {
        let name = directory.displayPath
        guard let observer else {
            directory.onSync(nil)
            return
        }
        directory.onSync { point in observer("\(point) in \(name)") }
    }

    /// The directory `name` of the parent, if it is there now.
    package func directory(_ name: String) -> MemoryFileSystem? { state.withLock { $0.live[name] } }

    /// The names in the parent now, sorted.
    package var names: [String] { state.withLock { $0.live.keys.sorted() } }

    /// The state a disk may hold after a power cut now: the parent's entries as of its last
    /// `fsync` with each operation since kept or lost on its own (kept ones apply in their order;
    /// one whose source is gone is skipped), each directory that may appear a
    /// ``MemoryFileSystem/crashImage(choosing:)`` of its own. Every choice is asked of `chooser`
    /// in a fixed order, so an ``ExhaustiveChooser`` walks every state.
    /// - Returns: the parent's entries: name to directory.
    package func crashImage(choosing chooser: inout some CrashChooser) -> [String: MemoryFileSystem] {
        let (durable, pending, moves) = state.withLock { ($0.durable, $0.pending, $0.moves) }
        var all = durable.keys.sorted().map { durable[$0]! }
        for case .make(_, let directory) in pending { all.append(directory) }
        var copies: [ObjectIdentifier: MemoryFileSystem] = [:]
        for directory in all where copies[ObjectIdentifier(directory)] == nil {
            copies[ObjectIdentifier(directory)] = directory.crashImage(choosing: &chooser)
        }
        var entries = durable
        for change in pending where chooser.choose(2) == 1 {
            switch change {
            case .make(let name, let directory):
                if entries[name] == nil { entries[name] = directory }
            case .remove(let name):
                entries[name] = nil
            case .rename(let from, let to):
                if let directory = entries.removeValue(forKey: from) { entries[to] = directory }
            case .exchange(let a, let b):
                if let first = entries[a], let second = entries[b] {
                    entries[a] = second
                    entries[b] = first
                }
            }
        }
        for move in moves where move.source.durablyHolds(move.name, move.storage) {
            // The removal is not durable: the rename is kept whole or lost whole.
            guard let source = copies[ObjectIdentifier(move.source)],
                let target = copies[ObjectIdentifier(move.target)]
            else { continue }
            if source.contents(of: move.name) == nil && target.contents(of: move.targetName) == nil {
                source.setContents(of: move.name, to: move.storage.durableSnapshot())
            }
        }
        return entries.mapValues { copies[ObjectIdentifier($0)]! }
    }

    // MARK: Paths

    /// A path inside the tree: the parent itself, one of its directories, or a file in one.
    private enum Place {
        case parent
        case directory(String)
        case file(String, String)
    }

    private func place(_ path: String) throws(PogrebError) -> Place {
        var trimmed = path
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
        if trimmed == root { return .parent }
        guard trimmed.hasPrefix(root + "/") else { throw Self.error(ENOENT, "outside the tree: \(path)") }
        let parts = trimmed.dropFirst(root.count + 1).split(separator: "/", omittingEmptySubsequences: false)
        switch parts.count {
        case 1: return .directory(String(parts[0]))
        case 2: return .file(String(parts[0]), String(parts[1]))
        default: throw Self.error(ENOENT, "too deep for the tree: \(path)")
        }
    }

    private static func error(_ code: Int32, _ what: String) -> PogrebError {
        PogrebError(.io, "memory tree: \(what)", underlying: Errno(rawValue: code))
    }

    private func existing(_ name: String) throws(PogrebError) -> MemoryFileSystem {
        guard let directory = state.withLock({ $0.live[name] }) else {
            throw Self.error(ENOENT, "no directory \(root)/\(name)")
        }
        return directory
    }

    // MARK: DirectoryTree

    package func resolve(_ path: String) throws(PogrebError) -> String {
        guard try kind(of: path) != .missing else { throw Self.error(ENOENT, "cannot resolve \(path)") }
        var trimmed = path
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
        return trimmed
    }

    package func kind(of path: String) throws(PogrebError) -> PathEntryKind {
        guard let place = try? place(path) else { return .missing }
        switch place {
        case .parent: return .directory
        case .directory(let name): return directory(name) == nil ? .missing : .directory
        case .file(let name, let file):
            guard let directory = directory(name) else { return .missing }
            return try directory.listFiles().contains(file) ? .regularFile : .missing
        }
    }

    package func identity(of path: String) -> FileIdentity? {
        switch try? place(path) {
        case .parent: return FileIdentity(device: 1, inode: 1)
        case .directory(let name):
            guard let directory = directory(name) else { return nil }
            return FileIdentity(device: 1, inode: UInt64(UInt(bitPattern: ObjectIdentifier(directory).hashValue)))
        default: return nil
        }
    }

    package func entries(of path: String) throws(PogrebError) -> [(name: String, kind: PathEntryKind)] {
        switch try place(path) {
        case .parent: return names.map { ($0, .directory) }
        case .directory(let name): return try existing(name).listFiles().sorted().map { ($0, .regularFile) }
        case .file: throw Self.error(ENOTDIR, "not a directory: \(path)")
        }
    }

    package func head(of path: String, count: Int) throws(PogrebError) -> (size: Int64, bytes: [UInt8]) {
        guard case .file(let name, let file) = try place(path) else {
            throw Self.error(EISDIR, "not a file: \(path)")
        }
        let handle = try existing(name).open(file, .readOnly)
        defer { handle.close() }
        let size = try handle.size()
        guard let memory = handle as? MemoryFile else { throw Self.error(EINVAL, "not a memory file: \(path)") }
        return (size, Array(memory.storage.snapshot().prefix(count)))
    }

    package func makeDirectory(_ path: String) throws(PogrebError) {
        guard case .directory(let name) = try place(path) else { throw Self.error(EEXIST, "cannot make \(path)") }
        let directory = MemoryFileSystem(displayPath: path)
        try directory.prepareDirectory(create: true)
        let observer = try state.withLock { (state) throws(PogrebError) -> (@Sendable (String) -> Void)? in
            guard state.live[name] == nil else { throw Self.error(EEXIST, "\(path) exists") }
            state.live[name] = directory
            state.pending.append(.make(name, directory))
            return state.observer
        }
        Self.install(observer, on: directory)
    }

    package func removeEmptyDirectory(_ path: String) throws(PogrebError) {
        guard case .directory(let name) = try place(path) else { throw Self.error(ENOTDIR, "cannot rmdir \(path)") }
        guard try existing(name).listFiles().isEmpty else { throw Self.error(ENOTEMPTY, "\(path) is not empty") }
        state.withLock {
            $0.live[name] = nil
            $0.pending.append(.remove(name))
        }
    }

    package func exchange(_ a: String, _ b: String) throws(PogrebError) {
        guard case .directory(let first) = try place(a), case .directory(let second) = try place(b) else {
            throw Self.error(EINVAL, "can exchange only directories of the parent: \(a), \(b)")
        }
        try state.withLock { (state) throws(PogrebError) in
            guard let x = state.live[first], let y = state.live[second] else {
                throw Self.error(ENOENT, "cannot exchange \(a) and \(b)")
            }
            state.live[first] = y
            state.live[second] = x
            state.pending.append(.exchange(first, second))
        }
    }

    package func rename(_ from: String, _ to: String) throws(PogrebError) {
        switch (try place(from), try place(to)) {
        case (.directory(let source), .directory(let target)):
            let replaced = state.withLock { $0.live[target] }
            if let replaced, !(try replaced.listFiles().isEmpty) {
                throw Self.error(ENOTEMPTY, "cannot rename \(from) over \(to): not empty")
            }
            try state.withLock { (state) throws(PogrebError) in
                guard let directory = state.live.removeValue(forKey: source) else {
                    throw Self.error(ENOENT, "cannot rename \(from)")
                }
                state.live[target] = directory
                state.pending.append(.rename(source, to: target))
            }
        case (.file(let sourceDirectory, let file), .file(let targetDirectory, let targetFile)):
            let target = try existing(targetDirectory)
            let source = try existing(sourceDirectory)
            let storage = try source.detach(file)
            target.attach(targetFile, storage)
            state.withLock {
                $0.moves.append(
                    Move(source: source, name: file, target: target, targetName: targetFile, storage: storage))
            }
        default:
            throw Self.error(EINVAL, "cannot rename \(from) to \(to) in the tree")
        }
    }

    package func syncParent(of path: String) throws(PogrebError) {
        switch try place(path) {
        case .parent: throw Self.error(EINVAL, "the tree models no directory above \(root)")
        case .directory:
            if let observer = state.withLock({ $0.observer }) { observer("fsync of \(root)") }
            state.withLock {
                $0.durable = $0.live
                $0.pending = []
            }
        case .file(let name, _):
            try existing(name).syncDirectory()
        }
    }

    package func fileSystem(at directory: String) -> any FileSystem {
        if case .directory(let name) = try? place(directory), let existing = self.directory(name) { return existing }
        return MemoryFileSystem(displayPath: directory)  // missing: prepareDirectory and lockDirectory fail
    }

    /// Makes everything in the tree durable now, as a clean shutdown and `sync` would: every
    /// directory's entries and files, and the parent's entries. Calls no observer.
    package func makeDurable() {
        let directories = state.withLock { state -> [MemoryFileSystem] in
            state.durable = state.live
            state.pending = []
            return Array(state.live.values)
        }
        for directory in directories { directory.makeDurable() }
    }
}
