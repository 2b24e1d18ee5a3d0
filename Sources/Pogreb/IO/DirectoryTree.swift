/// What a path names, without following a final symbolic link.
package enum PathEntryKind: Equatable, Sendable {
    case missing, directory, regularFile, symbolicLink, other
}

/// The operations on whole directories by path that publishing a database needs
/// (`Directory/PublishTarget.swift`: bulk build, backup): the seam through which tests run the
/// publication on a simulated parent directory, with power cuts and faults. The engine's public
/// calls use ``PosixDirectoryTree``, whose every method is the ``PathOperations`` call of the same
/// name (the syscalls each names).
package protocol DirectoryTree: Sendable {
    /// The absolute path of `path`, links, `.` and `..` resolved; `path` must exist.
    func resolve(_ path: String) throws(PogrebError) -> String
    /// What is at `path`; `.missing` when nothing is.
    func kind(of path: String) throws(PogrebError) -> PathEntryKind
    /// The identity of what `path` names, following links; nil when nothing is there.
    func identity(of path: String) -> FileIdentity?
    /// The entries of the directory `path`, without `.` and `..`.
    func entries(of path: String) throws(PogrebError) -> [(name: String, kind: PathEntryKind)]
    /// The size of the regular file `path` and its first `count` bytes, not following a link.
    func head(of path: String, count: Int) throws(PogrebError) -> (size: Int64, bytes: [UInt8])
    /// Creates the directory `path`; fails when anything is already there.
    func makeDirectory(_ path: String) throws(PogrebError)
    /// Removes the empty directory `path`.
    func removeEmptyDirectory(_ path: String) throws(PogrebError)
    /// Swaps the entries `a` and `b` atomically.
    func exchange(_ a: String, _ b: String) throws(PogrebError)
    /// Renames `from` to `to`; a directory replaces only a missing or empty directory.
    func rename(_ from: String, _ to: String) throws(PogrebError)
    /// Makes the entries of the directory that contains `path` durable (`fsync` of it).
    func syncParent(of path: String) throws(PogrebError)
    /// The directory `directory` as a ``FileSystem`` (its files, its `fsync`, its lock).
    func fileSystem(at directory: String) -> any FileSystem
}

/// The real directory tree: each method is the ``PathOperations`` call of the same name, and
/// ``fileSystem(at:)`` a ``PosixFileSystem``.
package struct PosixDirectoryTree: DirectoryTree {
    package init() {}

    package func resolve(_ path: String) throws(PogrebError) -> String { try PathOperations.resolve(path) }
    package func kind(of path: String) throws(PogrebError) -> PathEntryKind { try PathOperations.kind(of: path) }
    package func identity(of path: String) -> FileIdentity? { PathOperations.identity(of: path) }
    package func entries(of path: String) throws(PogrebError) -> [(name: String, kind: PathEntryKind)] {
        try PathOperations.entries(of: path)
    }
    package func head(of path: String, count: Int) throws(PogrebError) -> (size: Int64, bytes: [UInt8]) {
        try PathOperations.head(of: path, count: count)
    }
    package func makeDirectory(_ path: String) throws(PogrebError) { try PathOperations.makeDirectory(path) }
    package func removeEmptyDirectory(_ path: String) throws(PogrebError) {
        try PathOperations.removeEmptyDirectory(path)
    }
    package func exchange(_ a: String, _ b: String) throws(PogrebError) { try PathOperations.exchange(a, b) }
    package func rename(_ from: String, _ to: String) throws(PogrebError) { try PathOperations.rename(from, to) }
    package func syncParent(of path: String) throws(PogrebError) { try PathOperations.syncParent(of: path) }
    package func fileSystem(at directory: String) -> any FileSystem { PosixFileSystem(directory: directory) }
}
