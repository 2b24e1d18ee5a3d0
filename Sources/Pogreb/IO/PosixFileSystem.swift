#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// The real file system: one directory on disk, reached through POSIX calls (``SystemCalls``).
///
/// The directory is opened once (`open(O_DIRECTORY)`), at the first call, and every file is then
/// reached relative to that descriptor (`openat`, `unlinkat`, `renameat`, `fdopendir`): if the
/// path is later made to name another directory — the bulk builder swaps directories — an open
/// database keeps working on the one it opened, never on a mix of the two.
package final class PosixFileSystem: FileSystem {
    package let directory: String
    package var displayPath: String { directory }
    private let descriptor = Lock<Int32>(-1)  // protects the directory descriptor: -1 until opened

    package init(directory: String) {
        self.directory = directory
    }

    deinit {
        descriptor.withLock { fd in
            if fd >= 0 { SystemCalls.close(fd) }
        }
    }

    private func path(_ name: String) -> String { directory + "/" + name }

    /// Whether `directory` still names the directory this value opened (same device and inode).
    /// False after the path was swapped or removed; true when the directory was never opened.
    package func stillNamesOpenedDirectory() -> Bool {
        let fd = descriptor.withLock { $0 }
        guard fd >= 0 else { return true }
        guard let opened = try? SystemCalls.status(ofDescriptor: fd),
            let current = try? SystemCalls.status(ofPath: directory)
        else { return false }
        return opened.st_dev == current.st_dev && opened.st_ino == current.st_ino
    }

    /// The device and inode of the directory this value opened (`fstat` of its descriptor,
    /// opening it if needed); nil when it cannot be opened.
    package func directoryIdentity() -> FileIdentity? {
        guard let fd = try? directoryFD(), let info = try? SystemCalls.status(ofDescriptor: fd) else { return nil }
        return FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }

    /// The directory's descriptor, opened at the first call.
    private func directoryFD() throws(PogrebError) -> Int32 {
        try descriptor.withLock { (fd) throws(PogrebError) -> Int32 in
            if fd >= 0 { return fd }
            let opened: Int32
            do throws(Errno) {
                opened = try SystemCalls.open(directory, O_RDONLY | O_DIRECTORY)
            } catch {
                if error.rawValue == ENOTDIR {
                    throw PogrebError(
                        .notADatabase, "\(directory) is not a directory: a database is a directory of files.")
                }
                throw PogrebError.io(error, "cannot open the directory \(directory)")
            }
            fd = opened
            return opened
        }
    }

    package func prepareDirectory(create: Bool) throws(PogrebError) {
        let found: stat?
        do throws(Errno) {
            found = try SystemCalls.status(ofPath: directory)
        } catch {
            guard error == .noEntry, create else {
                throw PogrebError.io(error, "cannot open the directory \(directory)")
            }
            found = nil
        }
        if let info = found {
            guard (info.st_mode & S_IFMT) == S_IFDIR else {
                throw PogrebError(.notADatabase, "\(directory) is not a directory: a database is a directory of files.")
            }
            _ = try directoryFD()
            return
        }
        var created = true
        do throws(Errno) {
            try SystemCalls.makeDirectory(directory)
        } catch {
            if error != .exists { throw PogrebError.io(error, "cannot create the directory \(directory)") }
            created = false
        }
        // The new directory's own entry must survive a crash too.
        if created { try PathOperations.syncParent(of: directory) }
        _ = try directoryFD()
    }

    package func listFiles() throws(PogrebError) -> [String] {
        let dir = try directoryFD()
        do throws(Errno) {
            return try SystemCalls.entries(ofDirectory: dir)
        } catch {
            throw PogrebError.io(error, "cannot list the directory \(directory)")
        }
    }

    package func open(_ name: String, _ mode: FileOpenMode) throws(PogrebError) -> any StorageFile {
        let flags: Int32
        switch mode {
        case .readOnly: flags = O_RDONLY
        // A file we write is never reached through a symbolic link (`O_NOFOLLOW`).
        case .readWrite: flags = O_RDWR | O_NOFOLLOW
        case .createNew: flags = O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW
        }
        let dir = try directoryFD()
        // O_NONBLOCK: a FIFO under one of our names must not hang the open (no effect on a
        // regular file); anything but a regular file is refused below.
        let fd: Int32
        do throws(Errno) {
            fd = try SystemCalls.openat(dir, name, flags | O_NONBLOCK, 0o644)
        } catch {
            if error.rawValue == EISDIR { throw PogrebError.notARegularFile(path(name), kind: "a directory") }
            if error.rawValue == ELOOP && mode != .readOnly {
                throw PogrebError(
                    .notADatabase,
                    "\(path(name)) is a symbolic link: the files of a database are never links, and nothing is "
                        + "written through one. Replace the link by the file itself.",
                    underlying: error)
            }
            throw PogrebError.io(error, "cannot open \(path(name))")
        }
        let info: stat
        do throws(Errno) {
            info = try SystemCalls.status(ofDescriptor: fd)
        } catch {
            SystemCalls.close(fd)
            throw PogrebError.io(error, "cannot stat \(path(name))")
        }
        let type = info.st_mode & S_IFMT
        guard type == S_IFREG else {
            SystemCalls.close(fd)
            let kind: String
            switch type {
            case S_IFDIR: kind = "a directory"
            case S_IFCHR: kind = "a character device"
            case S_IFBLK: kind = "a block device"
            case S_IFIFO: kind = "a FIFO"
            case S_IFSOCK: kind = "a socket"
            default: kind = "not a regular file"
            }
            throw PogrebError.notARegularFile(path(name), kind: kind)
        }
        return PosixFile(fd: fd, name: path(name))
    }

    package func remove(_ name: String) throws(PogrebError) {
        let dir = try directoryFD()
        do throws(Errno) {
            try SystemCalls.unlinkat(dir, name)
        } catch {
            if error != .noEntry { throw PogrebError.io(error, "cannot remove \(path(name))") }
        }
    }

    package func rename(_ from: String, to: String) throws(PogrebError) {
        let dir = try directoryFD()
        do throws(Errno) {
            try SystemCalls.renameat(dir, from, to)
        } catch {
            throw PogrebError.io(error, "cannot rename \(path(from)) to \(path(to))")
        }
    }

    package func syncDirectory() throws(PogrebError) {
        let fd = try directoryFD()
        do throws(Errno) {
            try SystemCalls.sync(fd)
        } catch {
            // Some file systems refuse fsync on a directory; that is not a failure of ours.
            if error.rawValue != EINVAL && error.rawValue != EBADF {
                throw PogrebError.io(error, "cannot sync the directory \(directory)")
            }
        }
    }

    /// Test seam: a closure run by ``lockDirectory(exclusive:)`` after the directory was opened
    /// and before it is locked, keyed by ``directory``, so that a test can swap the directory in
    /// between (as a concurrent `Database.build` may). Empty outside tests.
    package static let beforeLockingDirectory = Lock<[String: @Sendable () -> Void]>([:])

    /// Locks the directory this value opened: `openat(dir, ".")` gives a descriptor of its own
    /// (its own open file description, so two values in one process exclude each other too),
    /// then `flock(LOCK_EX or LOCK_SH | LOCK_NB)`. When the lock is refused, a second
    /// `flock(LOCK_SH | LOCK_NB)` on the same descriptor tells readers from a writer for the
    /// message. Once locked, `fstat` and `stat` check that the path still names the locked
    /// directory: if it was swapped away meanwhile (a `Database.build` exchanging a new database
    /// in), the lock is released and `locked` thrown, so no open binds to a directory the path no
    /// longer names (``Database/open(at:options:)`` then opens again). Creates no file. The lock
    /// lives until the returned value is unlocked or freed.
    package func lockDirectory(exclusive: Bool) throws(PogrebError) -> any DirectoryLock {
        let dir = try directoryFD()
        if let hook = Self.beforeLockingDirectory.withLock({ $0[directory] }) { hook() }
        let fd: Int32
        do throws(Errno) {
            fd = try SystemCalls.openat(dir, ".", O_RDONLY | O_DIRECTORY)
        } catch {
            throw PogrebError.io(error, "cannot open the directory \(directory) to lock it")
        }
        do throws(Errno) {
            try SystemCalls.flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB)
        } catch {
            if error == .wouldBlock {
                let heldByReaders = exclusive && (try? SystemCalls.flock(fd, LOCK_SH | LOCK_NB)) != nil
                SystemCalls.close(fd)
                throw PogrebError.locked(directory, exclusive: exclusive, heldByReaders: heldByReaders)
            }
            SystemCalls.close(fd)
            throw PogrebError.io(error, "cannot lock the directory \(directory)")
        }
        guard let locked = try? SystemCalls.status(ofDescriptor: fd),
            let current = try? SystemCalls.status(ofPath: directory),
            locked.st_dev == current.st_dev, locked.st_ino == current.st_ino
        else {
            SystemCalls.close(fd)
            throw PogrebError(
                .locked,
                "\(directory) was replaced by another directory (or removed) while this open took its lock, as a "
                    + "`Database.build` swapping a new database in does. Open again.")
        }
        return PosixLock(fd: fd)
    }
}

final class PosixLock: DirectoryLock {
    private let state: Lock<Int32>  // protects the descriptor: -1 once unlocked

    init(fd: Int32) { state = Lock(fd) }

    func unlock() {
        state.withLock { fd in
            if fd >= 0 {
                try? SystemCalls.flock(fd, LOCK_UN)
                SystemCalls.close(fd)
                fd = -1
            }
        }
    }

    deinit { unlock() }
}

/// One open file descriptor.
final class PosixFile: StorageFile {
    let name: String
    private let fd: Int32
    private let isClosed = Atomic<Bool>(false)

    init(fd: Int32, name: String) {
        self.fd = fd
        self.name = name
    }

    private func checkOpen() throws(PogrebError) {
        if isClosed.load(ordering: .relaxed) { throw PogrebError(.closed, "\(name) was closed") }
    }

    func size() throws(PogrebError) -> Int64 {
        do throws(Errno) {
            return Int64(try SystemCalls.status(ofDescriptor: fd).st_size)
        } catch {
            throw PogrebError.io(error, "cannot stat \(name)")
        }
    }

    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(PogrebError) -> Int {
        try checkOpen()
        var done = 0
        while done < buffer.count {
            let n: Int
            do throws(Errno) {
                n = try unsafe SystemCalls.pread(
                    fd, into: UnsafeMutableRawBufferPointer(rebasing: buffer[done...]), at: offset + Int64(done))
            } catch {
                throw PogrebError.io(error, "cannot read \(name) at offset \(offset + Int64(done))")
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws(PogrebError) {
        try checkOpen()
        var done = 0
        while done < bytes.count {
            do throws(Errno) {
                done += try unsafe SystemCalls.pwrite(
                    fd, UnsafeRawBufferPointer(rebasing: bytes[done...]), at: offset + Int64(done))
            } catch {
                throw PogrebError.io(error, "cannot write \(name) at offset \(offset + Int64(done))")
            }
        }
    }

    func truncate(to size: Int64) throws(PogrebError) {
        try checkOpen()
        do throws(Errno) {
            try SystemCalls.truncate(fd, to: size)
        } catch {
            throw PogrebError.io(error, "cannot resize \(name) to \(size) bytes")
        }
    }

    func sync() throws(PogrebError) {
        try checkOpen()
        do throws(Errno) {
            try SystemCalls.syncData(fd)
        } catch {
            throw PogrebError.io(error, "cannot sync \(name): its last writes may not be on disk")
        }
    }

    func map(length: Int, randomAccess: Bool) throws(PogrebError) -> MappedRegion {
        try checkOpen()
        do {
            return try MappedRegion.map(fileDescriptor: fd, length: length, randomAccess: randomAccess)
        } catch {
            throw PogrebError.io(error, "cannot map \(length) bytes of \(name)")
        }
    }

    func dropCache() { SystemCalls.dropCache(fd) }

    func close() {
        if isClosed.exchange(true, ordering: .acquiringAndReleasing) == false { SystemCalls.close(fd) }
    }

    deinit { close() }
}

extension PogrebError {
    static func io(
        _ error: Errno, _ what: String, function: String = #function, file: String = #fileID, line: Int = #line
    ) -> PogrebError {
        switch error.rawValue {
        case EROFS, EACCES, EPERM:
            return PogrebError(
                .readOnly, "\(what): the directory or file cannot be written. Open read-only, or fix the permissions.",
                underlying: error, function: function, file: file, line: line)
        default:
            return PogrebError(.io, "\(what).", underlying: error, function: function, file: file, line: line)
        }
    }
}
