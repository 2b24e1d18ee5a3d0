import Glibc

/// One file of a database directory, as `stat` sees it.
struct DirectoryEntry: Sendable {
    var name: String
    /// The length in bytes (`st_size`).
    var size: Int64
    /// The bytes allocated on disk (`st_blocks × 512`).
    var allocated: Int64
    /// Last modification, seconds since the epoch.
    var modified: Int64
    var isRegularFile: Bool
}

enum Files {
    /// The entries of `directory`, sorted by name, without `.` and `..`.
    static func list(_ directory: String) throws(ToolError) -> [DirectoryEntry] {
        guard let handle = opendir(directory) else {
            throw ToolError(.io, "cannot list \(directory): \(describeErrno(errno))")
        }
        defer { closedir(handle) }
        var entries: [DirectoryEntry] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            var info = stat()
            guard lstat(directory + "/" + name, &info) == 0 else { continue }
            entries.append(
                DirectoryEntry(
                    name: name, size: Int64(info.st_size), allocated: Int64(info.st_blocks) * 512,
                    modified: Int64(info.st_mtim.tv_sec), isRegularFile: (info.st_mode & S_IFMT) == S_IFREG))
        }
        return entries.sorted { $0.name < $1.name }
    }

    /// Sizes of all regular files in `directory`: (sum of lengths, sum of allocated bytes).
    static func totalSize(_ directory: String) -> (apparent: Int64, allocated: Int64) {
        guard let entries = try? list(directory) else { return (0, 0) }
        var apparent: Int64 = 0
        var allocated: Int64 = 0
        for entry in entries where entry.isRegularFile {
            apparent += entry.size
            allocated += entry.allocated
        }
        return (apparent, allocated)
    }

    static func exists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0
    }

    /// Whether `path` is a directory that holds no database file: nothing but dot-files and the
    /// `pogreb.lock` that earlier builds left.
    static func isEmptyDirectory(_ path: String) -> Bool {
        guard isDirectory(path), let entries = try? list(path) else { return false }
        return entries.allSatisfy { $0.name.hasPrefix(".") || $0.name == "pogreb.lock" }
    }

    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// Removes `path` and everything under it (no error when it does not exist).
    static func removeTree(_ path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            if let entries = try? list(path) {
                for entry in entries { removeTree(path + "/" + entry.name) }
            }
            rmdir(path)
        } else {
            unlink(path)
        }
    }

    /// Makes a new directory under `$TMPDIR` (or /tmp) named `prefix-XXXXXX`.
    static func makeTemporaryDirectory(prefix: String, in parent: String? = nil) throws(ToolError) -> String {
        let base = parent ?? getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        var template = Array((base + "/" + prefix + "-XXXXXX").utf8CString)
        let result = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard result != nil else {
            throw ToolError(.io, "cannot create a temporary directory in \(base): \(describeErrno(errno))")
        }
        return stringFromCString(template)
    }

    /// Copies a regular file (then `fsync`s the copy).
    static func copyFile(from source: String, to destination: String) throws(ToolError) {
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw ToolError(.io, "cannot open \(source): \(describeErrno(errno))") }
        defer { close(input) }
        let output = open(destination, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard output >= 0 else { throw ToolError(.io, "cannot create \(destination): \(describeErrno(errno))") }
        defer { close(output) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ToolError(.io, "cannot read \(source): \(describeErrno(errno))")
            }
            if n == 0 { break }
            var done = 0
            while done < n {
                let w = buffer.withUnsafeBytes { write(output, $0.baseAddress! + done, n - done) }
                if w < 0 {
                    if errno == EINTR { continue }
                    throw ToolError(.io, "cannot write \(destination): \(describeErrno(errno))")
                }
                done += w
            }
        }
        guard fsync(output) == 0 else { throw ToolError(.io, "cannot sync \(destination): \(describeErrno(errno))") }
    }

    /// Reads up to `count` bytes at `offset` of the file at `path`.
    static func readPrefix(_ path: String, count: Int, at offset: Int64 = 0) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: count)
        let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(offset)) }
        guard n >= 0 else { return nil }
        return Array(bytes[0..<n])
    }
}

/// A Swift string from a NUL-terminated C character array.
func stringFromCString(_ characters: [CChar]) -> String {
    String(decoding: characters.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// The last component of a path.
func baseName(_ path: String) -> String {
    path.split(separator: "/").last.map(String.init) ?? path
}
