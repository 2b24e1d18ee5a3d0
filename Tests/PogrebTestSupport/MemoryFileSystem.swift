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
    // @unchecked Sendable: all mutable state is inside `state`, a Lock (Pogreb's Mutex, or a pthread mutex under TSan).
    package let displayPath: String
    private let state: Lock<State>  // protects the directory (live and durable) and the lock table

    struct State {
        var live: [String: MemoryFile.Storage] = [:]
        var durable: [String: MemoryFile.Storage] = [:]
        var exists = false
        /// The directory lock: exclusive or shared, and how many values hold it; nil when free.
        var directoryLock: (exclusive: Bool, holders: Int)?
        /// Creations, removals and renames since the last ``syncDirectory()``, oldest first.
        var pendingDirectory: [DirectoryChange] = []
        /// Called before every file sync and directory sync (see ``onSync``).
        var syncObserver: (@Sendable (SyncPoint) -> Void)?
    }

    /// A directory operation not yet made durable by ``syncDirectory()``.
    enum DirectoryChange {
        case create(String, MemoryFile.Storage)
        case remove(String)
        case rename(String, to: String)
    }

    /// A sync about to happen: of one file (its name), or of the directory.
    package enum SyncPoint: Sendable, CustomStringConvertible {
        case file(String)
        case directory

        package var description: String {
            switch self {
            case .file(let name): return "sync of \(name)"
            case .directory: return "sync of the directory"
            }
        }
    }

    /// Calls `observer` before every sync of a file or of the directory, outside every lock of
    /// this file system, so that it may take crash images (``crashImage(choosing:)``) of the state
    /// the sync is about to make durable: the sync points of a power-cut campaign.
    package func onSync(_ observer: (@Sendable (SyncPoint) -> Void)?) {
        state.withLock { $0.syncObserver = observer }
    }

    func willSync(_ point: SyncPoint) {
        if let observer = state.withLock({ $0.syncObserver }) { observer(point) }
    }

    package init(displayPath: String = "memory:") {
        self.displayPath = displayPath
        self.state = Lock(State())
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
                state.pendingDirectory.append(.create(name, storage))
                return storage
            case .readOnly, .readWrite:
                guard let storage = state.live[name] else {
                    throw PogrebError(.io, "cannot open \(displayPath)/\(name).", underlying: Errno.noEntry)
                }
                return storage
            }
        }
        return MemoryFile(
            name: displayPath + "/" + name, storage: storage, writable: mode != .readOnly, fileSystem: self)
    }

    package func remove(_ name: String) throws(PogrebError) {
        state.withLock { state in
            if state.live.removeValue(forKey: name) != nil { state.pendingDirectory.append(.remove(name)) }
        }
    }

    package func rename(_ from: String, to: String) throws(PogrebError) {
        try state.withLock { (state) throws(PogrebError) in
            guard let storage = state.live.removeValue(forKey: from) else {
                throw PogrebError(.io, "cannot rename \(from).", underlying: Errno.noEntry)
            }
            state.live[to] = storage
            state.pendingDirectory.append(.rename(from, to: to))
        }
    }

    /// Takes a file out of the directory (a removal, durable after ``syncDirectory()``) and
    /// returns its storage: the first half of a rename into another directory.
    func detach(_ name: String) throws(PogrebError) -> MemoryFile.Storage {
        try state.withLock { (state) throws(PogrebError) -> MemoryFile.Storage in
            guard let storage = state.live.removeValue(forKey: name) else {
                throw PogrebError(.io, "cannot rename \(displayPath)/\(name).", underlying: Errno.noEntry)
            }
            state.pendingDirectory.append(.remove(name))
            return storage
        }
    }

    /// Puts `storage` into the directory under `name` (a creation, durable after
    /// ``syncDirectory()``), replacing what is there: the second half of a rename from another
    /// directory.
    func attach(_ name: String, _ storage: MemoryFile.Storage) {
        state.withLock { state in
            if state.live[name] != nil { state.pendingDirectory.append(.remove(name)) }
            state.live[name] = storage
            state.pendingDirectory.append(.create(name, storage))
        }
    }

    /// Whether the directory's durable entries (as of its last ``syncDirectory()``) hold
    /// `storage` under `name`.
    func durablyHolds(_ name: String, _ storage: MemoryFile.Storage) -> Bool {
        state.withLock { $0.durable[name] === storage }
    }

    /// Makes every file and the directory durable as they are, calling no observer.
    func makeDurable() {
        state.withLock { state in
            for storage in state.live.values { storage.replace(with: storage.snapshot()) }
            state.durable = state.live
            state.pendingDirectory = []
        }
    }

    package func syncDirectory() throws(PogrebError) {
        willSync(.directory)
        state.withLock {
            $0.durable = $0.live
            $0.pendingDirectory = []
        }
    }

    /// Locks the directory as `flock` on its descriptor does: any number of shared holders or one
    /// exclusive one; creates no file.
    package func lockDirectory(exclusive: Bool) throws(PogrebError) -> any DirectoryLock {
        try state.withLock { (state) throws(PogrebError) in
            guard state.exists else {
                throw PogrebError(.io, "cannot open the directory \(displayPath).", underlying: Errno.noEntry)
            }
            if let held = state.directoryLock {
                if held.exclusive || exclusive {
                    throw PogrebError.locked(displayPath, exclusive: exclusive, heldByReaders: !held.exclusive)
                }
                state.directoryLock = (false, held.holders + 1)
            } else {
                state.directoryLock = (exclusive, 1)
            }
        }
        return MemoryLock(fileSystem: self)
    }

    fileprivate func releaseDirectoryLock() {
        state.withLock { state in
            if let held = state.directoryLock {
                state.directoryLock = held.holders <= 1 ? nil : (held.exclusive, held.holders - 1)
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

    /// The state a disk may hold after a power cut now, in the most general form the campaign
    /// simulates (docs/TESTING.md): every directory operation since the last ``syncDirectory()``
    /// is kept or lost on its own (kept ones apply in their order; one whose file is gone is
    /// skipped); every 512-byte sector of every file keeps the durable bytes or the result of a
    /// prefix of the unsynced writes that touched it, independently of the other sectors (writes
    /// reach the disk in any order and tear at sector boundaries); each file's size is that after
    /// a prefix of its unsynced size changes, sectors never written reading as zeros.
    ///
    /// Every choice is asked of `chooser` in a fixed order, so an ``ExhaustiveChooser`` can walk
    /// every state and a ``RandomChooser`` samples them.
    package func crashImage(choosing chooser: inout some CrashChooser) -> MemoryFileSystem {
        let image = MemoryFileSystem(displayPath: displayPath)
        let (durable, pending, exists) = state.withLock { ($0.durable, $0.pendingDirectory, $0.exists) }
        // Every file that may appear is asked about, whatever the directory choices, so the
        // questions do not depend on the answers.
        var storages: [(String, MemoryFile.Storage)] = durable.keys.sorted().map { ($0, durable[$0]!) }
        for case .create(let name, let storage) in pending { storages.append((name, storage)) }
        var copies: [ObjectIdentifier: MemoryFile.Storage] = [:]
        for (_, storage) in storages where copies[ObjectIdentifier(storage)] == nil {
            copies[ObjectIdentifier(storage)] = storage.crashCopy(choosing: &chooser)
        }
        var directory = durable
        for change in pending where chooser.choose(2) == 1 {
            switch change {
            case .create(let name, let storage): directory[name] = storage
            case .remove(let name): directory[name] = nil
            case .rename(let from, let to):
                if let storage = directory.removeValue(forKey: from) { directory[to] = storage }
            }
        }
        var files: [String: MemoryFile.Storage] = [:]
        for (name, storage) in directory { files[name] = copies[ObjectIdentifier(storage)] }
        image.state.withLock {
            $0.live = files
            $0.durable = files
            $0.exists = exists
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
    private let released = Atomic<Bool>(false)

    init(fileSystem: MemoryFileSystem) {
        self.fileSystem = fileSystem
    }

    func unlock() {
        if !released.exchange(true, ordering: .acquiringAndReleasing) { fileSystem.releaseDirectoryLock() }
    }

    deinit { unlock() }
}

/// An open file of a ``MemoryFileSystem``.
final class MemoryFile: StorageFile {
    /// The bytes of one file, shared by every open handle. Tracks the durable copy and the writes
    /// made since the last sync, in order, for crash images.
    final class Storage: @unchecked Sendable {
        // @unchecked Sendable: all mutable state is inside `state`, a Lock (Pogreb's Mutex, or a pthread mutex under TSan).
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
        let state = Lock(State())  // protects the bytes and their durable copy

        func snapshot() -> [UInt8] { state.withLock { $0.bytes } }

        func durableSnapshot() -> [UInt8] { state.withLock { $0.durable } }

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

        /// The sector size of ``crashCopy(choosing:)``: a write may reach the disk in part, in
        /// whole sectors.
        static let sectorSize = 512

        /// A copy as a power cut may leave it (see ``MemoryFileSystem/crashImage(choosing:)``):
        /// the size after a prefix of the unsynced size changes, and each sector the durable bytes
        /// or those after a prefix of the unsynced changes that touched it.
        func crashCopy(choosing chooser: inout some CrashChooser) -> Storage {
            let (durable, pending) = state.withLock { ($0.durable, $0.pending) }
            let sector = Storage.sectorSize
            // The size: a prefix of the changes, as far as they move the end of the file.
            var sizes = [durable.count]
            for change in pending {
                switch change {
                case .write(let offset, let bytes): sizes.append(max(sizes[sizes.count - 1], offset + bytes.count))
                case .truncate(let size): sizes.append(size)
                }
            }
            let size = sizes[chooser.choose(sizes.count)]
            // The changes that touched each sector, in order. A truncation touches the sectors
            // from the one it cuts through to the end of the longest extent.
            var touching: [Int: [Int]] = [:]
            var extent = durable.count
            for (i, change) in pending.enumerated() {
                let range: Range<Int>
                switch change {
                case .write(let offset, let bytes):
                    range = offset..<(offset + bytes.count)
                    extent = max(extent, offset + bytes.count)
                case .truncate(let cut):
                    range = cut..<max(extent, cut)
                }
                guard !range.isEmpty else { continue }
                for s in (range.lowerBound / sector)...((range.upperBound - 1) / sector) {
                    touching[s, default: []].append(i)
                }
            }
            var bytes = [UInt8](repeating: 0, count: size)
            let durableEnd = min(size, durable.count)
            bytes.replaceSubrange(0..<durableEnd, with: durable[0..<durableEnd])
            for s in touching.keys.sorted() {
                let changes = touching[s]!
                let kept = chooser.choose(changes.count + 1)
                guard kept > 0 else { continue }
                let start = s * sector
                var content = [UInt8](repeating: 0, count: sector)
                for j in 0..<sector where start + j < durable.count { content[j] = durable[start + j] }
                for i in changes.prefix(kept) {
                    switch pending[i] {
                    case .write(let offset, let data):
                        for j in max(start, offset)..<min(start + sector, offset + data.count) {
                            content[j - start] = data[j - offset]
                        }
                    case .truncate(let cut):
                        for j in max(start, cut)..<(start + sector) where j >= cut { content[j - start] = 0 }
                    }
                }
                for j in 0..<sector where start + j < size { bytes[start + j] = content[j] }
            }
            let copy = Storage()
            copy.state.withLock {
                $0.bytes = bytes
                $0.durable = bytes
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
    private let fileSystem: MemoryFileSystem?  // told of every sync (its observer)

    init(name: String, storage: Storage, writable: Bool, fileSystem: MemoryFileSystem? = nil) {
        self.name = name
        self.storage = storage
        self.writable = writable
        self.fileSystem = fileSystem
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
        fileSystem?.willSync(.file(String(name.split(separator: "/").last ?? "")))
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
