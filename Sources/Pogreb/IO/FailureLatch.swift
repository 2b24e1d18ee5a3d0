import Synchronization

/// The writer's failure latch: the first failure that leaves the files or the in-memory state in
/// doubt, kept once, after which every change is refused.
///
/// After a failed `fdatasync`, Linux may mark the unwritten pages clean, so a later sync that
/// succeeds proves nothing about the earlier bytes: the only safe answer is to stop writing and
/// recover from the files at the next open. I/O failures reach the latch by themselves, through
/// ``LatchingFileSystem``, which wraps every file the writer writes; the engine latches by hand
/// only the rare non-I/O error met while a change was half applied in memory
/// (``latchDamage(_:)``). Errors met while only reading (a `corrupted` chain during a probe, a
/// full key) never latch.
final class FailureLatch: Sendable {
    private let first = Lock<PogrebError?>(nil)  // protects the first failure

    /// The first failure, if any.
    var failure: PogrebError? { first.withLock { $0 } }

    /// Throws the latched error (`previousIOFailure`, or `corrupted` after damage) when a failure
    /// was latched; returns otherwise.
    func check() throws(PogrebError) {
        if let failure = first.withLock({ $0 }) { throw PogrebError.latched(failure) }
    }

    /// Keeps `error` when it is the first failure. A `closed` error (a file used after
    /// ``Database/close()``) is no failure of the storage and is not kept.
    func latch(_ error: PogrebError) {
        guard error.code != .closed else { return }
        first.withLock { if $0 == nil { $0 = error } }
    }

    /// Latches a non-I/O error met while a change was half applied to the in-memory index or
    /// write buffer, then rethrows it. I/O errors are latched already by the file wrapper.
    func latchDamage(_ error: PogrebError) -> PogrebError {
        latch(error)
        return error
    }
}

/// A ``FileSystem`` whose changing operations latch their failure in a ``FailureLatch``, in the
/// manner of redb's checked backend: writes, truncations, syncs, creations, renames and removals
/// of the wrapped file system and of every file opened through it. Reads, mappings and listings
/// pass through unlatched.
struct LatchingFileSystem: FileSystem {
    let base: any FileSystem
    let latch: FailureLatch

    init(wrapping base: any FileSystem, latch: FailureLatch = FailureLatch()) {
        self.base = base
        self.latch = latch
    }

    /// Runs a changing operation, latching its failure.
    @inline(__always)
    func latching<R>(_ body: () throws(PogrebError) -> R) throws(PogrebError) -> R {
        do throws(PogrebError) { return try body() } catch {
            latch.latch(error)
            throw error
        }
    }

    var displayPath: String { base.displayPath }
    func prepareDirectory(create: Bool) throws(PogrebError) { try base.prepareDirectory(create: create) }
    func listFiles() throws(PogrebError) -> [String] { try base.listFiles() }

    func open(_ name: String, _ mode: FileOpenMode) throws(PogrebError) -> any StorageFile {
        let file =
            mode == .createNew
            ? try latching { () throws(PogrebError) in try base.open(name, mode) } : try base.open(name, mode)
        return mode == .readOnly ? file : LatchingFile(base: file, latch: latch)
    }

    func remove(_ name: String) throws(PogrebError) { try latching { () throws(PogrebError) in try base.remove(name) } }
    func rename(_ from: String, to: String) throws(PogrebError) {
        try latching { () throws(PogrebError) in try base.rename(from, to: to) }
    }
    func syncDirectory() throws(PogrebError) { try latching { () throws(PogrebError) in try base.syncDirectory() } }
    func lockDirectory(exclusive: Bool) throws(PogrebError) -> any DirectoryLock {
        try base.lockDirectory(exclusive: exclusive)
    }
}

/// A writable file of a ``LatchingFileSystem``: its writes, truncations and syncs latch failures.
final class LatchingFile: StorageFile {
    let base: any StorageFile
    let latch: FailureLatch

    init(base: any StorageFile, latch: FailureLatch) {
        self.base = base
        self.latch = latch
    }

    @inline(__always)
    private func latching(_ body: () throws(PogrebError) -> Void) throws(PogrebError) {
        do throws(PogrebError) { try body() } catch {
            latch.latch(error)
            throw error
        }
    }

    var name: String { base.name }
    func size() throws(PogrebError) -> Int64 { try base.size() }
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(PogrebError) -> Int {
        try unsafe base.read(into: buffer, at: offset)
    }
    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws(PogrebError) {
        try latching { () throws(PogrebError) in try unsafe base.write(bytes, at: offset) }
    }
    func truncate(to size: Int64) throws(PogrebError) {
        try latching { () throws(PogrebError) in try base.truncate(to: size) }
    }
    func sync() throws(PogrebError) { try latching { () throws(PogrebError) in try base.sync() } }
    func map(length: Int, randomAccess: Bool) throws(PogrebError) -> MappedRegion {
        try base.map(length: length, randomAccess: randomAccess)
    }
    func dropCache() { base.dropCache() }
    func close() { base.close() }
}
