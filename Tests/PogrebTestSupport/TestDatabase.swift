import Foundation
import Pogreb

/// One database directory of a test, on one ``FileSystemKind``: opens it, and reads and damages
/// its files directly.
///
/// Made by ``withTestDatabase(_:configure:_:)``, which removes the temporary directory afterwards.
package final class TestDatabase: @unchecked Sendable {
    // @unchecked Sendable: `fileSystem` changes only when a test swaps in a crash image, from the
    // test's own thread.
    package let kind: FileSystemKind
    /// The database directory for the POSIX kinds, nil for the memory kind.
    package let directory: String?
    /// The file system the next ``open(_:)`` uses.
    package private(set) var fileSystem: any FileSystem
    /// The options the next ``open(_:)`` starts from.
    package var options: Options

    package init(kind: FileSystemKind, directory: String, configure: (inout Options) -> Void = { _ in }) {
        self.kind = kind
        let (fileSystem, options) = kind.make(directory: directory)
        self.fileSystem = fileSystem
        self.directory = kind.isMemory ? nil : directory
        var adjusted = options
        configure(&adjusted)
        self.options = adjusted
    }

    /// The memory file system, for the memory kind.
    package var memory: MemoryFileSystem? { fileSystem as? MemoryFileSystem }

    /// Opens the database with ``options``, changed by `adjust` for this open only.
    package func open(_ adjust: (inout Options) -> Void = { _ in }) throws -> Database {
        var options = self.options
        adjust(&options)
        return try Database.open(fileSystem: fileSystem, options: options)
    }

    /// Opens the database through `wrapper` (a ``FaultInjectingFileSystem`` around ``fileSystem``).
    package func open(through wrapper: any FileSystem, _ adjust: (inout Options) -> Void = { _ in }) throws -> Database
    {
        var options = self.options
        adjust(&options)
        return try Database.open(fileSystem: wrapper, options: options)
    }

    /// Makes later opens use `fileSystem` (a crash image of the memory file system).
    package func use(_ fileSystem: any FileSystem) {
        self.fileSystem = fileSystem
    }

    // MARK: Files

    /// The names of the files in the directory, sorted.
    package func fileNames() throws -> [String] {
        if let memory { return try memory.listFiles().sorted() }
        guard let directory else { return [] }
        guard FileManager.default.fileExists(atPath: directory) else { return [] }
        return try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
    }

    /// The segment files, oldest first.
    package func segmentNames() throws -> [String] {
        try fileNames().filter { $0.hasPrefix("segment-") && $0.hasSuffix(".pgl") }
    }

    /// The bytes of a file, or nil when it does not exist.
    package func contents(of name: String) throws -> [UInt8]? {
        if let memory { return memory.contents(of: name) }
        guard let directory else { return nil }
        guard let data = FileManager.default.contents(atPath: directory + "/" + name) else { return nil }
        return [UInt8](data)
    }

    /// Replaces the bytes of a file (creating it when missing), in place.
    package func setContents(of name: String, to bytes: [UInt8]) throws {
        if let memory {
            memory.setContents(of: name, to: bytes)
            return
        }
        guard let directory else { return }
        try Data(bytes).write(to: URL(fileURLWithPath: directory + "/" + name))
    }

    /// Changes the bytes of an existing file.
    package func modify(_ name: String, _ change: (inout [UInt8]) throws -> Void) throws {
        guard var bytes = try contents(of: name) else { throw TestSupportError("no file \(name)") }
        try change(&bytes)
        try setContents(of: name, to: bytes)
    }

    /// Removes a file.
    package func removeFile(_ name: String) throws {
        if let memory {
            try memory.remove(name)
            try memory.syncDirectory()
            return
        }
        guard let directory else { return }
        try FileManager.default.removeItem(atPath: directory + "/" + name)
    }

    /// The size of a file in bytes, or nil when it does not exist.
    package func size(of name: String) throws -> Int? { try contents(of: name)?.count }

    /// Every file of the directory and its bytes.
    package func snapshot() throws -> [String: [UInt8]] {
        var files: [String: [UInt8]] = [:]
        for name in try fileNames() {
            guard let bytes = try contents(of: name) else { continue }
            files[name] = bytes
        }
        return files
    }

    /// Makes the directory hold exactly `files`, as a clean copy: for the memory kind a new
    /// ``MemoryFileSystem`` (with every byte durable) that later opens use.
    package func restore(_ files: [String: [UInt8]]) throws {
        if let memory {
            let fresh = MemoryFileSystem(displayPath: memory.displayPath)
            try fresh.prepareDirectory(create: true)
            for (name, bytes) in files { fresh.setContents(of: name, to: bytes) }
            try fresh.syncDirectory()
            use(fresh)
            return
        }
        guard let directory else { return }
        if !FileManager.default.fileExists(atPath: directory) {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        for name in try fileNames() where files[name] == nil { try removeFile(name) }
        for (name, bytes) in files where try contents(of: name) != bytes { try setContents(of: name, to: bytes) }
    }
}

/// Calls `body` with a fresh database directory of `kind` (nothing created yet), and removes the
/// temporary directory afterwards.
package func withTestDatabase<R>(
    _ kind: FileSystemKind, configure: (inout Options) -> Void = { _ in }, _ body: (TestDatabase) throws -> R
) throws -> R {
    try withTemporaryDirectory { path in
        try body(TestDatabase(kind: kind, directory: path + "/db", configure: configure))
    }
}

/// The async variant of ``withTestDatabase(_:configure:_:)``.
package func withTestDatabase<R>(
    _ kind: FileSystemKind, configure: (inout Options) -> Void = { _ in }, _ body: (TestDatabase) async throws -> R
) async throws -> R {
    try await withTemporaryDirectory { path in
        try await body(TestDatabase(kind: kind, directory: path + "/db", configure: configure))
    }
}
