/// How ``FileSystem/open(_:_:)`` opens a file.
package enum FileOpenMode: Sendable {
    /// Reading only; the file must exist.
    case readOnly
    /// Reading and writing; the file must exist.
    case readWrite
    /// Reading and writing; the file must not exist yet (`O_CREAT | O_EXCL`).
    case createNew
}

/// The seam between the engine and the storage it runs on: one database directory.
///
/// Every name is a plain file name inside that directory. Implementations: ``PosixFileSystem``
/// (the real one), ``LatchingFileSystem`` (the writer's wrapper that latches failures) and, in
/// the test-support target, `MemoryFileSystem` (with a crash image of what was made durable) and
/// wrappers that fail or crash on demand.
package protocol FileSystem: Sendable {
    /// The directory, as shown in messages.
    var displayPath: String { get }

    /// Creates the directory when `create` is true and it is missing; checks that it exists.
    func prepareDirectory(create: Bool) throws(PogrebError)

    /// The names of the regular files in the directory, unsorted.
    func listFiles() throws(PogrebError) -> [String]

    /// Opens a file of the directory. A file opened for writing (``FileOpenMode/readWrite``,
    /// ``FileOpenMode/createNew``) is never reached through a symbolic link: `O_NOFOLLOW`, and a
    /// link there is `notADatabase`.
    func open(_ name: String, _ mode: FileOpenMode) throws(PogrebError) -> any StorageFile

    /// Removes a file. The removal is durable after the next ``syncDirectory()``.
    func remove(_ name: String) throws(PogrebError)

    /// Renames a file atomically, replacing `to` if it exists. Durable after ``syncDirectory()``.
    func rename(_ from: String, to: String) throws(PogrebError)

    /// Makes creations, renames and removals in the directory durable (`fsync` on the directory).
    func syncDirectory() throws(PogrebError)

    /// Takes an advisory lock on the directory itself without waiting: exclusive for a writer,
    /// shared for a read-only open. No file is created or needed: the lock cannot be lost by
    /// deleting a file of the directory. Throws ``PogrebError/Code/locked`` when a conflicting
    /// lock is held, in this process or another. The lock is held until the returned value is
    /// released.
    func lockDirectory(exclusive: Bool) throws(PogrebError) -> any DirectoryLock
}

/// A held directory lock; released by ``unlock()`` or when the value is freed.
package protocol DirectoryLock: AnyObject, Sendable {
    func unlock()
}

/// One open file of a ``FileSystem``.
///
/// Reads and writes are positional (`pread`/`pwrite`), so any number of threads may read at once.
package protocol StorageFile: AnyObject, Sendable {
    /// The file name, for messages.
    var name: String { get }

    /// The current size in bytes (`fstat`).
    func size() throws(PogrebError) -> Int64

    /// Reads up to `buffer.count` bytes at `offset` (`pread`, repeated until full or end of file).
    /// - Returns: the number of bytes read; fewer than asked only at the end of the file.
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(PogrebError) -> Int

    /// Writes all of `bytes` at `offset` (`pwrite`, repeated until done). Not durable until ``sync()``.
    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws(PogrebError)

    /// Sets the size (`ftruncate`). Not durable until ``sync()``.
    func truncate(to size: Int64) throws(PogrebError)

    /// Makes the file's data durable: `fdatasync` on Linux, `fcntl(F_FULLFSYNC)` on Darwin.
    func sync() throws(PogrebError)

    /// Maps the first `length` bytes read-only. The mapping may be a snapshot: callers map again
    /// after writing through ``write(_:at:)`` when they need to see the new bytes. `length` must not
    /// exceed the file size and must be positive.
    func map(length: Int, randomAccess: Bool) throws(PogrebError) -> MappedRegion

    /// Tells the kernel the file's cached pages are no longer needed (`posix_fadvise DONTNEED`).
    func dropCache()

    /// Closes the descriptor. Later calls fail with ``PogrebError/Code/closed``.
    func close()
}

extension StorageFile {
    /// Reads exactly `count` bytes at `offset` into a new array; throws `corrupted` on a short read.
    func readExactly(count: Int, at offset: Int64) throws(PogrebError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let got = try unsafe bytes.withMutableBytes { (buffer) throws(PogrebError) -> Int in
            try unsafe read(into: buffer, at: offset)
        }
        guard got == count else {
            throw PogrebError.corrupted(
                file: name, offset: offset, "expected \(count) bytes, the file ends after \(got)")
        }
        return bytes
    }

    /// Writes all of `bytes` at `offset`.
    func write(_ bytes: [UInt8], at offset: Int64) throws(PogrebError) {
        try unsafe bytes.withBytes { (buffer) throws(PogrebError) in
            try unsafe write(buffer, at: offset)
        }
    }
}
