#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Pogreb
import Synchronization

/// A ``DirectoryTree`` that passes everything to another one, counts its operations, and makes a
/// chosen one fail with an `io` error (`EIO` or `ENOSPC`), as ``FaultInjectingFileSystem`` does
/// for the files of one directory. The directories it hands out (``fileSystem(at:)``) count and
/// fail their `fsync` and `unlink` as tree operations too; their files are not touched (wrap
/// those with a ``FaultInjectingFileSystem``).
package final class FaultInjectingDirectoryTree: DirectoryTree, Sendable {
    /// The operations counted.
    package enum Operation: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
        /// `mkdir`.
        case makeDirectory
        /// `rmdir`.
        case removeDirectory
        /// `rename` of a directory, or of a file from one directory into another.
        case rename
        /// `renameat2(RENAME_EXCHANGE)`.
        case exchange
        /// `fsync` of the parent directory.
        case syncParent
        /// `fsync` of one of its directories (``FileSystem/syncDirectory()``).
        case syncDirectory
        /// `unlink` of a file in one of its directories.
        case remove
        /// The reads: `realpath`, `lstat`, listing a directory, reading a file's head.
        case inspect

        package var description: String { rawValue }
    }

    private struct State {
        var operation: Operation?
        var failAt = 0
        var sticky = false
        var code = EIO
        var matched = 0
        var tripped = false
        var counts: [Operation: Int] = [:]
        var failures: [String] = []
    }

    /// The wrapped tree.
    package let base: any DirectoryTree
    private let state = Lock(State())  // protects the rule, the counters and the failure log

    package init(wrapping base: any DirectoryTree) {
        self.base = base
    }

    /// Fails the `occurrence`th (1-based) `operation` from now with `EIO` (or `ENOSPC` when
    /// `full`), and with `sticky` every changing operation after it (the process stopped there).
    package func arm(_ operation: Operation, failingAt occurrence: Int, sticky: Bool, full: Bool) {
        state.withLock {
            $0.operation = operation
            $0.failAt = occurrence
            $0.sticky = sticky
            $0.code = full ? ENOSPC : EIO
            $0.matched = 0
            $0.tripped = false
        }
    }

    /// Stops failing.
    package func disarm() { state.withLock { $0.operation = nil } }

    /// Whether an armed failure has fired.
    package var hasFailed: Bool { state.withLock { !$0.failures.isEmpty } }

    /// One line per failed operation, oldest first.
    package var failures: [String] { state.withLock { $0.failures } }

    /// Operations of `kind` so far.
    package func count(of kind: Operation) -> Int { state.withLock { $0.counts[kind] ?? 0 } }

    fileprivate func check(_ operation: Operation, _ what: @autoclosure () -> String) throws(PogrebError) {
        let code = state.withLock { state -> Int32? in
            state.counts[operation, default: 0] += 1
            guard let armed = state.operation else { return nil }
            if state.tripped && state.sticky && (operation != .inspect || armed == .inspect) {
                state.failures.append("\(operation) \(what()) (after the failure)")
                return state.code
            }
            guard armed == operation else { return nil }
            state.matched += 1
            guard state.matched == state.failAt else { return nil }
            state.tripped = true
            state.failures.append("\(operation) \(what())")
            return state.code
        }
        if let code {
            throw PogrebError(
                .io, "injected failure (\(code == EIO ? "EIO" : "ENOSPC")): \(operation) \(what())",
                underlying: Errno(rawValue: code))
        }
    }

    package func resolve(_ path: String) throws(PogrebError) -> String {
        try check(.inspect, "realpath \(path)")
        return try base.resolve(path)
    }

    package func kind(of path: String) throws(PogrebError) -> PathEntryKind {
        try check(.inspect, "lstat \(path)")
        return try base.kind(of: path)
    }

    package func identity(of path: String) -> FileIdentity? { base.identity(of: path) }

    package func entries(of path: String) throws(PogrebError) -> [(name: String, kind: PathEntryKind)] {
        try check(.inspect, "list \(path)")
        return try base.entries(of: path)
    }

    package func head(of path: String, count: Int) throws(PogrebError) -> (size: Int64, bytes: [UInt8]) {
        try check(.inspect, "head of \(path)")
        return try base.head(of: path, count: count)
    }

    package func makeDirectory(_ path: String) throws(PogrebError) {
        try check(.makeDirectory, path)
        try base.makeDirectory(path)
    }

    package func removeEmptyDirectory(_ path: String) throws(PogrebError) {
        try check(.removeDirectory, path)
        try base.removeEmptyDirectory(path)
    }

    package func exchange(_ a: String, _ b: String) throws(PogrebError) {
        try check(.exchange, "\(a) and \(b)")
        try base.exchange(a, b)
    }

    package func rename(_ from: String, _ to: String) throws(PogrebError) {
        try check(.rename, "\(from) to \(to)")
        try base.rename(from, to)
    }

    package func syncParent(of path: String) throws(PogrebError) {
        try check(.syncParent, "of \(path)")
        try base.syncParent(of: path)
    }

    package func fileSystem(at directory: String) -> any FileSystem {
        FaultInjectingTreeDirectory(base: base.fileSystem(at: directory), owner: self)
    }
}

/// A directory handed out by a ``FaultInjectingDirectoryTree``: its `fsync`, `unlink` and listing
/// are the tree's operations; the rest passes through.
final class FaultInjectingTreeDirectory: FileSystem {
    let base: any FileSystem
    let owner: FaultInjectingDirectoryTree

    init(base: any FileSystem, owner: FaultInjectingDirectoryTree) {
        self.base = base
        self.owner = owner
    }

    var displayPath: String { base.displayPath }
    func prepareDirectory(create: Bool) throws(PogrebError) { try base.prepareDirectory(create: create) }
    func listFiles() throws(PogrebError) -> [String] {
        try owner.check(.inspect, "list \(displayPath)")
        return try base.listFiles()
    }
    func open(_ name: String, _ mode: FileOpenMode) throws(PogrebError) -> any StorageFile {
        try base.open(name, mode)
    }
    func remove(_ name: String) throws(PogrebError) {
        try owner.check(.remove, "\(displayPath)/\(name)")
        try base.remove(name)
    }
    func rename(_ from: String, to: String) throws(PogrebError) { try base.rename(from, to: to) }
    func syncDirectory() throws(PogrebError) {
        try owner.check(.syncDirectory, displayPath)
        try base.syncDirectory()
    }
    func lockDirectory(exclusive: Bool) throws(PogrebError) -> any DirectoryLock {
        try base.lockDirectory(exclusive: exclusive)
    }
}
