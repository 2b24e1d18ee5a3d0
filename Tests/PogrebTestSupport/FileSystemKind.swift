import Pogreb

/// The ways a database can reach its files; every engine test runs over all of them.
package enum FileSystemKind: String, CaseIterable, Sendable, CustomStringConvertible {
    /// ``MemoryFileSystem``: fast, and able to take crash images.
    case memory
    /// ``PosixFileSystem`` in a temporary directory, reading segments with `pread`.
    case posixPread
    /// ``PosixFileSystem`` in a temporary directory, reading sealed segments through `mmap`.
    case posixMmap

    package var description: String { rawValue }

    package var isMemory: Bool { self == .memory }

    /// The file access mode of this kind's options.
    package var fileAccess: Options.FileAccess {
        switch self {
        case .memory, .posixMmap: return .mmap
        case .posixPread: return .pread
        }
    }

    /// A file system and options for a fresh, empty database: `directory` is the database's
    /// directory (it need not exist yet; unused for the memory kind).
    package func make(directory: String) -> (fileSystem: any FileSystem, options: Options) {
        var options = Options()
        options.fileAccess = fileAccess
        switch self {
        case .memory: return (MemoryFileSystem(displayPath: "memory:/db"), options)
        case .posixPread, .posixMmap: return (PosixFileSystem(directory: directory), options)
        }
    }

    /// Calls `body` with a file system and options for a fresh, empty database in a new
    /// temporary directory, which is removed afterwards.
    package func withFreshDatabase<R>(_ body: (any FileSystem, Options) throws -> R) throws -> R {
        try withTemporaryDirectory { path in
            let (fileSystem, options) = make(directory: path + "/db")
            return try body(fileSystem, options)
        }
    }
}
