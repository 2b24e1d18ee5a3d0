import Pogreb
import Synchronization

/// A file system held in memory, for tests.
///
/// Besides the live contents it remembers what a real disk would still hold after a power cut:
/// a file's bytes as of its last ``StorageFile/sync()`` and the directory entries as of the last
/// ``syncDirectory()``. ``crashImage(keepingUnsyncedWrites:)`` returns a new file system holding
/// that durable state, optionally with a prefix of the writes made since, as a disk that wrote some
/// of its cache before dying would.
package final class MemoryFileSystem: FileSystem, @unchecked Sendable {
    // @unchecked Sendable: all mutable state is inside `state`, a Mutex.
    package let displayPath: String
    private let state: Mutex<State>  // protects the directory (live and durable) and the lock table

    struct State {
        var live: [String: MemoryFile.Storage] = [:]
        var durable: [String: MemoryFile.Storage] = [:]
        var exists = false
        var locks: [String: (exclusive: Bool, holders: Int)] = [:]
    }

    package init(displayPath: String = "memory:") {
        self.displayPath = displayPath
        self.state = Mutex(State())
    }

    package func prepareDirectory(create: Bool) throws(PogrebError) {
        try state.withLock { (state) throws(PogrebError) in
            if !state.exists {
                guard create else {
                    throw PogrebError(.io, "cannot open the directory \(displayPath).", underlying: Errno.noEntry)
                }
                state.exists = true
            }
        }
    }

    package func listFiles() throws(PogrebError) -> [String] {
        state.withLock { Array($0.live.keys) }
    }

    package func open(_ name: String, _ mode: FileOpenMode) throws(PogrebError) -> any StorageFile {
        let storage = try state.withLock { (state) throws(PogrebError) -> MemoryFile.Storage in
            switch mode {
            case .createNew:
                if state.live[name] != nil {
                    throw PogrebError(.io, "cannot open \(displayPath)/\(name).", underlying: Errno.exists)
                }
                let storage = MemoryFile.Storage()
                state.live[name] = storage
                return storage
            case .readOnly, .readWrite:
                guard let storage = state.live[name] else {
                    throw PogrebError(.io, "cannot open \(displayPath)/\(name).", underlying: Errno.noEntry)
                }
                return storage
            }
        }
        return MemoryFile(name: displayPath + "/" + name, storage: storage, writable: mode != .readOnly)
    }

    package func remove(_ name: String) throws(PogrebError) {
        _ = state.withLock { $0.live.removeValue(forKey: name) }
    }

    package func rename(_ from: String, to: String) throws(PogrebError) {
        try state.withLock { (state) throws(PogrebError) in
            guard let storage = state.live.removeValue(forKey: from) else {
                throw PogrebError(.io, "cannot rename \(from).", underlying: Errno.noEntry)
            }
            state.live[to] = storage
        }
    }

    package func syncDirectory() throws(PogrebError) {
        state.withLock { $0.durable = $0.live }
    }

    package func lock(_ name: String, exclusive: Bool, create: Bool) throws(PogrebError) -> any DirectoryLock {
        try state.withLock { (state) throws(PogrebError) in
            if state.live[name] == nil {
                if create {
                    state.live[name] = MemoryFile.Storage()
                } else if exclusive {
                    throw PogrebError(.io, "cannot open the lock file \(name).", underlying: Errno.noEntry)
                }
            }
            if let held = state.locks[name], held.holders > 0 {
                if held.exclusive || exclusive {
                    throw PogrebError(
                        .locked, "\(displayPath) is in use by another Database value: one writer at a time.")
                }
                state.locks[name] = (false, held.holders + 1)
            } else {
                state.locks[name] = (exclusive, 1)
            }
        }
        return MemoryLock(fileSystem: self, name: name)
    }

    fileprivate func releaseLock(_ name: String) {
        state.withLock { state in
            if let held = state.locks[name] {
                state.locks[name] = held.holders <= 1 ? nil : (held.exclusive, held.holders - 1)
            }
        }
    }

    /// The state a disk would hold after a crash now: the directory as of its last sync, each file
    /// as of its last sync. With `keepingUnsyncedWrites`, each file keeps a prefix of the writes
    /// made since its last sync, chosen by `choose(count)` returning a number in `0...count`.
    package func crashImage(keepingUnsyncedWrites choose: ((Int) -> Int)? = nil) -> MemoryFileSystem {
        let image = MemoryFileSystem(displayPath: displayPath)
        state.withLock { state in
            var files: [String: MemoryFile.Storage] = [:]
            for (name, storage) in state.durable {
                files[name] = storage.crashCopy(choose: choose)
            }
            image.state.withLock {
                $0.live = files
                $0.durable = files
                $0.exists = state.exists
            }
        }
        return image
    }

    /// The live bytes of a file, for tests that damage or inspect files.
    package func contents(of name: String) -> [UInt8]? {
        state.withLock { $0.live[name]?.snapshot() }
    }

    /// Replaces the live bytes of a file (and creates it if needed), durable at once.
    package func setContents(of name: String, to bytes: [UInt8]) {
        state.withLock { state in
            let storage = state.live[name] ?? MemoryFile.Storage()
            storage.replace(with: bytes)
            state.live[name] = storage
            state.durable[name] = storage
        }
    }
}

final class MemoryLock: DirectoryLock {
    private let fileSystem: MemoryFileSystem
    private let name: String
    private let released = Atomic<Bool>(false)

    init(fileSystem: MemoryFileSystem, name: String) {
        self.fileSystem = fileSystem
        self.name = name
    }

    func unlock() {
        if !released.exchange(true, ordering: .acquiringAndReleasing) { fileSystem.releaseLock(name) }
    }

    deinit { unlock() }
}

/// An open file of a ``MemoryFileSystem``.
final class MemoryFile: StorageFile {
    /// The bytes of one file, shared by every open handle. Tracks the durable copy and the writes
    /// made since the last sync, in order, for crash images.
    final class Storage: @unchecked Sendable {
        // @unchecked Sendable: all mutable state is inside `state`, a Mutex.
        struct State {
            var bytes: [UInt8] = []
            var durable: [UInt8] = []
            /// Writes and truncations since the last sync, oldest first.
            var pending: [Change] = []
        }
        enum Change {
            case write(offset: Int, bytes: [UInt8])
            case truncate(Int)
        }
        let state = Mutex(State())  // protects the bytes and their durable copy

        func snapshot() -> [UInt8] { state.withLock { $0.bytes } }

        func replace(with bytes: [UInt8]) {
            state.withLock {
                $0.bytes = bytes
                $0.durable = bytes
                $0.pending = []
            }
        }

        func crashCopy(choose: ((Int) -> Int)?) -> Storage {
            let copy = Storage()
            state.withLock { state in
                var bytes = state.durable
                if let choose {
                    let keep = min(max(choose(state.pending.count), 0), state.pending.count)
                    for change in state.pending.prefix(keep) {
                        Storage.apply(change, to: &bytes)
                    }
                }
                copy.state.withLock {
                    $0.bytes = bytes
                    $0.durable = bytes
                }
            }
            return copy
        }

        static func apply(_ change: Change, to bytes: inout [UInt8]) {
            switch change {
            case .write(let offset, let data):
                if bytes.count < offset + data.count {
                    bytes.append(contentsOf: repeatElement(0, count: offset + data.count - bytes.count))
                }
                bytes.replaceSubrange(offset..<(offset + data.count), with: data)
            case .truncate(let size):
                if size < bytes.count {
                    bytes.removeSubrange(size...)
                } else {
                    bytes.append(contentsOf: repeatElement(0, count: size - bytes.count))
                }
            }
        }
    }

    let name: String
    let storage: Storage
    private let writable: Bool
    private let isClosed = Atomic<Bool>(false)

    init(name: String, storage: Storage, writable: Bool) {
        self.name = name
        self.storage = storage
        self.writable = writable
    }

    private func check(writing: Bool) throws(PogrebError) {
        if isClosed.load(ordering: .relaxed) { throw PogrebError(.closed, "\(name) was closed") }
        if writing && !writable {
            throw PogrebError(.readOnly, "\(name) was opened read-only", underlying: Errno(rawValue: 9))
        }
    }

    func size() throws(PogrebError) -> Int64 {
        try check(writing: false)
        return Int64(storage.state.withLock { $0.bytes.count })
    }

    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(PogrebError) -> Int {
        try check(writing: false)
        return storage.state.withLock { state in
            let start = Int(offset)
            guard start < state.bytes.count else { return 0 }
            let n = min(buffer.count, state.bytes.count - start)
            unsafe state.bytes.withUnsafeBytes { source in
                unsafe buffer.baseAddress!.copyMemory(from: source.baseAddress! + start, byteCount: n)
            }
            return n
        }
    }

    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws(PogrebError) {
        try check(writing: true)
        let data = unsafe [UInt8](bytes)
        storage.state.withLock { state in
            let change = Storage.Change.write(offset: Int(offset), bytes: data)
            Storage.apply(change, to: &state.bytes)
            state.pending.append(change)
        }
    }

    func truncate(to size: Int64) throws(PogrebError) {
        try check(writing: true)
        storage.state.withLock { state in
            let change = Storage.Change.truncate(Int(size))
            Storage.apply(change, to: &state.bytes)
            state.pending.append(change)
        }
    }

    func sync() throws(PogrebError) {
        try check(writing: false)
        storage.state.withLock { state in
            state.durable = state.bytes
            state.pending = []
        }
    }

    func map(length: Int, randomAccess: Bool) throws(PogrebError) -> MappedRegion {
        try check(writing: false)
        return try storage.state.withLock { (state) throws(PogrebError) -> MappedRegion in
            guard length > 0, length <= state.bytes.count else {
                throw PogrebError(
                    .invalidArgument, "cannot map \(length) bytes of \(name): it holds \(state.bytes.count)")
            }
            return unsafe state.bytes.withUnsafeBytes {
                unsafe MappedRegion.copy(of: UnsafeRawBufferPointer(rebasing: $0[0..<length]))
            }
        }
    }

    func dropCache() {}

    func close() { isClosed.store(true, ordering: .relaxed) }
}
