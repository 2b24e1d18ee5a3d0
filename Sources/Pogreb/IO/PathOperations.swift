#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The device and inode of a file or directory: what names it, whatever the path.
package struct FileIdentity: Equatable, Sendable {
    package var device: UInt64
    package var inode: UInt64

    package init(device: UInt64, inode: UInt64) {
        self.device = device
        self.inode = inode
    }
}

/// Operations on whole directories by path, for publishing a new database into place (bulk build,
/// backup; `Directory/PublishTarget.swift`).
enum PathOperations {
    /// What a directory entry is, without following a final symbolic link.
    typealias EntryKind = PathEntryKind

    /// What is at `path` (`lstat`); `.missing` when nothing is.
    static func kind(of path: String) throws(PogrebError) -> EntryKind {
        let info: stat
        do throws(Errno) {
            info = try SystemCalls.status(ofPath: path, followingLinks: false)
        } catch {
            if error == .noEntry { return .missing }
            throw PogrebError.io(error, "cannot inspect \(path)")
        }
        switch info.st_mode & S_IFMT {
        case S_IFDIR: return .directory
        case S_IFREG: return .regularFile
        case S_IFLNK: return .symbolicLink
        default: return .other
        }
    }

    /// The device and inode of what `path` names, following symbolic links (`stat`); nil when
    /// nothing is there.
    static func identity(of path: String) -> FileIdentity? {
        guard let info = try? SystemCalls.status(ofPath: path) else { return nil }
        return FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }

    /// The absolute path of `path` with every symbolic link, `.` and `..` resolved (`realpath`).
    /// `path` must exist.
    static func resolve(_ path: String) throws(PogrebError) -> String {
        do throws(Errno) {
            return try SystemCalls.realPath(path)
        } catch {
            throw PogrebError.io(error, "cannot resolve the path \(path)")
        }
    }

    /// The entries of the directory `path` (`opendir`, `readdir`, one `lstat` each), without `.`
    /// and `..`.
    static func entries(of path: String) throws(PogrebError) -> [(name: String, kind: EntryKind)] {
        let names: [String]
        do throws(Errno) {
            names = try SystemCalls.entries(ofDirectoryAt: path)
        } catch {
            throw PogrebError.io(error, "cannot list the directory \(path)")
        }
        var result: [(name: String, kind: EntryKind)] = []
        for name in names { result.append((name, try kind(of: path + "/" + name))) }
        return result
    }

    /// The size of the regular file `path` and its first `count` bytes (fewer when it is
    /// shorter), read without following a symbolic link (`open(O_NOFOLLOW)`, `fstat`, `pread`).
    static func head(of path: String, count: Int) throws(PogrebError) -> (size: Int64, bytes: [UInt8]) {
        let fd: Int32
        do throws(Errno) {
            fd = try SystemCalls.open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK)
        } catch {
            throw PogrebError.io(error, "cannot open \(path)")
        }
        let file = PosixFile(fd: fd, name: path)
        defer { file.close() }
        let size = try file.size()
        var bytes = [UInt8](repeating: 0, count: Int(min(Int64(count), size)))
        let got = try unsafe bytes.withMutableBytes { (buffer) throws(PogrebError) -> Int in
            try unsafe file.read(into: buffer, at: 0)
        }
        return (size, Array(bytes.prefix(got)))
    }

    /// Creates the directory `path` (`mkdir`, mode 0755); fails when anything is already there.
    static func makeDirectory(_ path: String) throws(PogrebError) {
        do throws(Errno) {
            try SystemCalls.makeDirectory(path)
        } catch {
            throw PogrebError.io(error, "cannot create the directory \(path)")
        }
    }

    /// Removes the empty directory `path` (`rmdir`).
    static func removeEmptyDirectory(_ path: String) throws(PogrebError) {
        do throws(Errno) {
            try SystemCalls.removeDirectory(path)
        } catch {
            throw PogrebError.io(error, "cannot remove the directory \(path)")
        }
    }

    /// Whether something exists at `path` (`lstat`).
    static func exists(_ path: String) -> Bool {
        (try? SystemCalls.status(ofPath: path, followingLinks: false)) != nil
    }

    /// Swaps the directory entries `a` and `b` atomically: `renameat2(RENAME_EXCHANGE)` on Linux,
    /// `renamex_np(RENAME_SWAP)` on Darwin. A process that opens either path sees one directory
    /// or the other, never a mix.
    static func exchange(_ a: String, _ b: String) throws(PogrebError) {
        do throws(Errno) {
            try SystemCalls.exchange(a, b)
        } catch {
            throw PogrebError.io(error, "cannot exchange \(a) and \(b) atomically")
        }
    }

    /// Renames `from` to `to` (`rename`); a directory replaces only a missing or empty directory.
    static func rename(_ from: String, _ to: String) throws(PogrebError) {
        do throws(Errno) {
            try SystemCalls.rename(from, to)
        } catch {
            throw PogrebError.io(error, "cannot rename \(from) to \(to)")
        }
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
