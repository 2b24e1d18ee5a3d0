#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CPogrebSystem

/// Every system call the engine makes, each behind a small wrapper, in the manner of
/// swift-system's `system_open`: a call interrupted by a signal (`EINTR`) is retried, a failure is
/// thrown as the typed ``Errno``, and the differences between Glibc and Darwin stay in this file.
/// The rest of `IO/` calls these; no other file calls libc for I/O.
///
/// The wrappers make one system call each (the read and write loops that call them until a
/// buffer is done live in ``PosixFile``), and promise nothing about durability beyond what the
/// call itself does. Pointers given to them are used only during the call.
enum SystemCalls {
    // MARK: Retrying

    /// Runs `body` until it does not fail with `EINTR`; a negative result throws `errno`.
    @inline(__always)
    private static func retrying(_ body: () -> Int32) throws(Errno) -> Int32 {
        while true {
            let result = body()
            if result >= 0 { return result }
            if errno != EINTR { throw Errno.current }
        }
    }

    /// ``retrying(_:)`` for calls that return a byte count (`ssize_t`).
    @inline(__always)
    private static func retryingCount(_ body: () -> Int) throws(Errno) -> Int {
        while true {
            let result = body()
            if result >= 0 { return result }
            if errno != EINTR { throw Errno.current }
        }
    }

    // MARK: Descriptors

    /// `open(path, flags, mode)` with `O_CLOEXEC` added.
    static func open(_ path: String, _ flags: Int32, _ mode: mode_t = 0) throws(Errno) -> Int32 {
        try retrying {
            #if canImport(Glibc)
            unsafe Glibc.open(path, flags | O_CLOEXEC, mode)
            #else
            Darwin.open(path, flags | O_CLOEXEC, mode)
            #endif
        }
    }

    /// `openat(directory, name, flags, mode)` with `O_CLOEXEC` added.
    static func openat(_ directory: Int32, _ name: String, _ flags: Int32, _ mode: mode_t = 0) throws(Errno) -> Int32 {
        try retrying { libc_openat(directory, name, flags | O_CLOEXEC, mode) }
    }

    /// `close(fd)`. Not retried and never thrown: on Linux the descriptor is released even when
    /// `close` reports `EINTR` or `EIO`, and a retry could close a descriptor another thread just
    /// received (write errors are reported by `fdatasync`, which the engine calls first).
    static func close(_ fd: Int32) {
        #if canImport(Glibc)
        _ = Glibc.close(fd)
        #else
        _ = Darwin.close(fd)
        #endif
    }

    /// `dup(fd)` with close-on-exec (`fcntl(F_DUPFD_CLOEXEC)`).
    static func duplicate(_ fd: Int32) throws(Errno) -> Int32 {
        try retrying { fcntl(fd, F_DUPFD_CLOEXEC, 0) }
    }

    // MARK: Reading and writing

    /// One `pread` of up to `buffer.count` bytes at `offset`; 0 at the end of the file.
    static func pread(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(Errno) -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        return try retryingCount { unsafe libc_pread(fd, base, buffer.count, off_t(offset)) }
    }

    /// One `pwrite` of up to `bytes.count` bytes at `offset`; returns how many it wrote.
    static func pwrite(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int64) throws(Errno) -> Int {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return 0 }
        return try retryingCount { unsafe libc_pwrite(fd, base, bytes.count, off_t(offset)) }
    }

    /// `ftruncate(fd, size)`.
    static func truncate(_ fd: Int32, to size: Int64) throws(Errno) {
        _ = try retrying { ftruncate(fd, off_t(size)) }
    }

    // MARK: Durability

    /// Makes a file's data durable: `fdatasync` on Linux; on Darwin `fcntl(F_FULLFSYNC)`, which
    /// asks the drive to flush its cache (plain `fsync` there does not), falling back to `fsync`
    /// where the file system does not support it.
    static func syncData(_ fd: Int32) throws(Errno) {
        #if canImport(Darwin)
        if fcntl(fd, F_FULLFSYNC) == 0 { return }
        _ = try retrying { fsync(fd) }
        #else
        _ = try retrying { fdatasync(fd) }
        #endif
    }

    /// `fsync(fd)`: data and metadata (the directory's entries, for a directory).
    static func sync(_ fd: Int32) throws(Errno) {
        _ = try retrying { fsync(fd) }
    }

    /// `posix_fadvise(POSIX_FADV_DONTNEED)` over the whole file (Linux only; a hint, so no error).
    static func dropCache(_ fd: Int32) {
        #if canImport(Glibc)
        _ = posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_DONTNEED))
        #endif
    }

    // MARK: Status

    /// `fstat(fd)`.
    static func status(ofDescriptor fd: Int32) throws(Errno) -> stat {
        var info = stat()
        _ = try retrying { unsafe fstat(fd, &info) }
        return info
    }

    /// `stat(path)`, or `lstat(path)` when `followingLinks` is false.
    static func status(ofPath path: String, followingLinks: Bool = true) throws(Errno) -> stat {
        var info = stat()
        if followingLinks {
            _ = try retrying { unsafe stat(path, &info) }
        } else {
            _ = try retrying { unsafe lstat(path, &info) }
        }
        return info
    }

    // MARK: Mappings

    /// `mmap(PROT_READ, MAP_SHARED)` of the first `length` bytes of `fd`, with
    /// `madvise(MADV_RANDOM)` when `randomAccess` is set (a hint: its failure is ignored).
    static func mapReadOnly(_ fd: Int32, length: Int, randomAccess: Bool) throws(Errno) -> UnsafeMutableRawPointer {
        guard let pointer = unsafe mmap(nil, length, PROT_READ, MAP_SHARED, fd, 0), unsafe pointer != MAP_FAILED
        else { throw Errno.current }
        if randomAccess { _ = unsafe madvise(pointer, length, MADV_RANDOM) }
        return unsafe pointer
    }

    /// `munmap(base, length)`; a failure (only for arguments that were never mapped) is ignored.
    static func unmap(_ base: UnsafeRawPointer, length: Int) {
        _ = unsafe munmap(UnsafeMutableRawPointer(mutating: base), length)
    }

    // MARK: Directories and names

    /// `unlinkat(directory, name, 0)`.
    static func unlinkat(_ directory: Int32, _ name: String) throws(Errno) {
        _ = try retrying { libc_unlinkat(directory, name, 0) }
    }

    /// `renameat(directory, from, directory, to)`: atomic, replacing `to`.
    static func renameat(_ directory: Int32, _ from: String, _ to: String) throws(Errno) {
        _ = try retrying { libc_renameat(directory, from, directory, to) }
    }

    /// `rename(from, to)`.
    static func rename(_ from: String, _ to: String) throws(Errno) {
        #if canImport(Glibc)
        _ = try retrying { unsafe Glibc.rename(from, to) }
        #else
        _ = try retrying { Darwin.rename(from, to) }
        #endif
    }

    /// Swaps two directory entries atomically: `renameat2(RENAME_EXCHANGE)` on Linux,
    /// `renamex_np(RENAME_SWAP)` on Darwin (in the C target).
    static func exchange(_ a: String, _ b: String) throws(Errno) {
        _ = try retrying { unsafe c_pogreb_exchange(a, b) }
    }

    /// `mkdir(path, mode)`.
    static func makeDirectory(_ path: String, mode: mode_t = 0o755) throws(Errno) {
        _ = try retrying { unsafe mkdir(path, mode) }
    }

    /// `rmdir(path)`.
    static func removeDirectory(_ path: String) throws(Errno) {
        _ = try retrying { unsafe rmdir(path) }
    }

    /// `realpath(path)`: the absolute path with every link, `.` and `..` resolved.
    static func realPath(_ path: String) throws(Errno) -> String {
        guard let resolved = unsafe realpath(path, nil) else { throw Errno.current }
        defer { unsafe free(resolved) }
        return unsafe String(cString: resolved)
    }

    /// The names in the directory open as `fd`, without `.` and `..`: `fdopendir` of a duplicate
    /// (it takes ownership of the descriptor it is given), `rewinddir`, `readdir`, `closedir`.
    static func entries(ofDirectory fd: Int32) throws(Errno) -> [String] {
        let copy = try duplicate(fd)
        guard let handle = unsafe fdopendir(copy) else {
            let error = Errno.current
            close(copy)
            throw error
        }
        defer { unsafe closedir(handle) }
        unsafe rewinddir(handle)
        return unsafe names(in: handle)
    }

    /// The names in the directory at `path`, without `.` and `..` (`opendir`, `readdir`, `closedir`).
    static func entries(ofDirectoryAt path: String) throws(Errno) -> [String] {
        guard let handle = unsafe opendir(path) else { throw Errno.current }
        defer { unsafe closedir(handle) }
        return unsafe names(in: handle)
    }

    #if canImport(Glibc)
    private typealias DirectoryStream = OpaquePointer
    #else
    private typealias DirectoryStream = UnsafeMutablePointer<DIR>
    #endif

    private static func names(in handle: DirectoryStream) -> [String] {
        var names: [String] = []
        while let entry = unsafe readdir(handle) {
            let name = unsafe withUnsafeBytes(of: entry.pointee.d_name) { raw in
                unsafe String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name == "." || name == ".." { continue }
            names.append(name)
        }
        return names
    }

    // MARK: Locks and limits

    /// `flock(fd, operation)` (`LOCK_EX`, `LOCK_SH`, `LOCK_UN`, with `LOCK_NB`).
    static func flock(_ fd: Int32, _ operation: Int32) throws(Errno) {
        _ = try retrying { libc_flock(fd, operation) }
    }

    /// The process's soft limit on open descriptors (`getrlimit(RLIMIT_NOFILE)`), or nil when
    /// there is none or it cannot be read.
    static var descriptorLimit: Int? {
        var limit = rlimit()
        #if canImport(Glibc)
        let resource = Int32(RLIMIT_NOFILE.rawValue)
        #else
        let resource = RLIMIT_NOFILE
        #endif
        guard unsafe getrlimit(resource, &limit) == 0, limit.rlim_cur != rlim_t.max else { return nil }
        return Int(clamping: limit.rlim_cur)
    }

    /// The number of processors online (`sysconf(_SC_NPROCESSORS_ONLN)`), at least 1.
    static var processorCount: Int {
        max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }
}

// The calls whose names differ between the platforms' modules, named once.
@inline(__always) private func libc_openat(_ dir: Int32, _ name: String, _ flags: Int32, _ mode: mode_t) -> Int32 {
    unsafe openat(dir, name, flags, mode)
}
@inline(__always) private func libc_pread(
    _ fd: Int32, _ base: UnsafeMutableRawPointer, _ count: Int, _ offset: off_t
) -> Int {
    unsafe pread(fd, base, count, offset)
}
@inline(__always) private func libc_pwrite(_ fd: Int32, _ base: UnsafeRawPointer, _ count: Int, _ offset: off_t) -> Int
{
    unsafe pwrite(fd, base, count, offset)
}
@inline(__always) private func libc_flock(_ fd: Int32, _ operation: Int32) -> Int32 {
    flock(fd, operation)
}
@inline(__always) private func libc_unlinkat(_ dir: Int32, _ name: String, _ flags: Int32) -> Int32 {
    unsafe unlinkat(dir, name, flags)
}
@inline(__always) private func libc_renameat(_ a: Int32, _ from: String, _ b: Int32, _ to: String) -> Int32 {
    unsafe renameat(a, from, b, to)
}
