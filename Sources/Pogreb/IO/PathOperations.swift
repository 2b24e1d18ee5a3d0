#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CPogrebSystem

/// Operations on whole directories by path, for the bulk builder's switch into place.
enum PathOperations {
    /// Whether something exists at `path` (`lstat`).
    static func exists(_ path: String) -> Bool {
        var info = stat()
        return unsafe lstat(path, &info) == 0
    }

    /// Swaps the directory entries `a` and `b` atomically: `renameat2(RENAME_EXCHANGE)` on Linux,
    /// `renamex_np(RENAME_SWAP)` on Darwin. A process that opens either path sees one directory
    /// or the other, never a mix.
    static func exchange(_ a: String, _ b: String) throws(PogrebError) {
        let result = unsafe c_pogreb_exchange(a, b)
        if result != 0 {
            throw PogrebError.io(Errno.current, "cannot exchange \(a) and \(b) atomically")
        }
    }

    /// Renames `from` to `to` (`rename`), which must not exist or be an empty directory.
    static func rename(_ from: String, _ to: String) throws(PogrebError) {
        #if canImport(Glibc)
        let result = unsafe Glibc.rename(from, to)
        #else
        let result = Darwin.rename(from, to)
        #endif
        if result != 0 { throw PogrebError.io(Errno.current, "cannot rename \(from) to \(to)") }
    }

    /// Removes the files of the directory `path`, then the directory (no recursion into
    /// subdirectories: a database directory has none).
    static func removeDirectory(_ path: String) throws(PogrebError) {
        let fileSystem = PosixFileSystem(directory: path)
        for name in try fileSystem.listFiles() { try fileSystem.remove(name) }
        if unsafe rmdir(path) != 0 { throw PogrebError.io(Errno.current, "cannot remove the directory \(path)") }
    }

    /// `fsync`s the directory that contains `path`, making a rename of `path` durable.
    static func syncParent(of path: String) throws(PogrebError) {
        var parent = path
        while parent.count > 1 && parent.hasSuffix("/") { parent.removeLast() }
        if let slash = parent.lastIndex(of: "/") {
            parent = slash == parent.startIndex ? "/" : String(parent[..<slash])
        } else {
            parent = "."
        }
        try PosixFileSystem(directory: parent).syncDirectory()
    }
}
