#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CPogrebSystem

/// The device and inode of a file or directory: what names it, whatever the path.
package struct FileIdentity: Equatable, Sendable {
    package var device: UInt64
    package var inode: UInt64
}

/// Operations on whole directories by path, for publishing a new database into place (bulk build,
/// backup; `Directory/PublishTarget.swift`).
enum PathOperations {
    /// What a directory entry is, without following a final symbolic link.
    enum EntryKind: Equatable, Sendable {
        case missing, directory, regularFile, symbolicLink, other
    }

    /// What is at `path` (`lstat`); `.missing` when nothing is.
    static func kind(of path: String) throws(PogrebError) -> EntryKind {
        var info = stat()
        guard unsafe lstat(path, &info) == 0 else {
            let error = Errno.current
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
        var info = stat()
        guard unsafe stat(path, &info) == 0 else { return nil }
        return FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }

    /// The absolute path of `path` with every symbolic link, `.` and `..` resolved (`realpath`).
    /// `path` must exist.
    static func resolve(_ path: String) throws(PogrebError) -> String {
        guard let resolved = unsafe realpath(path, nil) else {
            throw PogrebError.io(Errno.current, "cannot resolve the path \(path)")
        }
        defer { unsafe free(resolved) }
        return unsafe String(cString: resolved)
    }

    /// The entries of the directory `path` (`opendir`, `readdir`, one `lstat` each), without `.`
    /// and `..`.
    static func entries(of path: String) throws(PogrebError) -> [(name: String, kind: EntryKind)] {
        guard let handle = unsafe opendir(path) else {
            throw PogrebError.io(Errno.current, "cannot list the directory \(path)")
        }
        defer { unsafe closedir(handle) }
        var names: [String] = []
        while let entry = unsafe readdir(handle) {
            let name = unsafe withUnsafeBytes(of: entry.pointee.d_name) { raw in
                unsafe String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name == "." || name == ".." { continue }
            names.append(name)
        }
        var result: [(name: String, kind: EntryKind)] = []
        for name in names { result.append((name, try kind(of: path + "/" + name))) }
        return result
    }

    /// The size of the regular file `path` and its first `count` bytes (fewer when it is
    /// shorter), read without following a symbolic link (`open(O_NOFOLLOW)`, `fstat`, `pread`).
    static func head(of path: String, count: Int) throws(PogrebError) -> (size: Int64, bytes: [UInt8]) {
        let fd = Glue.retryingOnInterrupt { Glibc_open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0) }
        guard fd >= 0 else { throw PogrebError.io(Errno.current, "cannot open \(path)") }
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
        if unsafe mkdir(path, 0o755) != 0 {
            throw PogrebError.io(Errno.current, "cannot create the directory \(path)")
        }
    }

    /// Removes the empty directory `path` (`rmdir`).
    static func removeEmptyDirectory(_ path: String) throws(PogrebError) {
        if unsafe rmdir(path) != 0 { throw PogrebError.io(Errno.current, "cannot remove the directory \(path)") }
    }

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

    /// Renames `from` to `to` (`rename`); a directory replaces only a missing or empty directory.
    static func rename(_ from: String, _ to: String) throws(PogrebError) {
        #if canImport(Glibc)
        let result = unsafe Glibc.rename(from, to)
        #else
        let result = Darwin.rename(from, to)
        #endif
        if result != 0 { throw PogrebError.io(Errno.current, "cannot rename \(from) to \(to)") }
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
