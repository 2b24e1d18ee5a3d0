#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Pogreb
import Synchronization

/// A ``FileSystem`` that passes everything to another one, counts its operations, and makes a
/// chosen one fail with an `io` error (`EIO` or `ENOSPC`), as a dying or full disk would.
///
/// Arm it with ``arm(_:failingAt:sticky:fault:)``: the `n`th operation of the given kinds counted
/// from then on throws instead of reaching the wrapped file system. With `sticky`, every operation
/// of any kind after it fails too, which models a process that stopped at that point (take a crash
/// image of the wrapped ``MemoryFileSystem`` then); reads go on working after a sticky failure of a
/// change, unless reads were armed. The changing operations (``Operation/changing``)
/// and the reading ones (opening an existing file, `fstat`, `pread`, `mmap`, listing the directory)
/// can fail; preparing and locking the directory, dropping the cache and closing cannot.
package final class FaultInjectingFileSystem: FileSystem, Sendable {
    /// The operations the wrapper counts and can fail: those that change storage, then those that
    /// only read it.
    package enum Operation: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
        /// `StorageFile.write` (`pwrite`).
        case write
        /// `StorageFile.truncate` (`ftruncate`).
        case truncate
        /// `StorageFile.sync` (`fdatasync`).
        case sync
        /// `FileSystem.syncDirectory` (`fsync` of the directory).
        case syncDirectory
        /// `FileSystem.open(_, .createNew)` (`open(O_CREAT | O_EXCL)`).
        case create
        /// `FileSystem.rename`.
        case rename
        /// `FileSystem.remove` (`unlink`).
        case remove
        /// `FileSystem.open` of an existing file, read-only or for writing (`openat`, `fstat`).
        case open
        /// `StorageFile.size` (`fstat`).
        case size
        /// `StorageFile.read` (`pread`).
        case read
        /// `StorageFile.map` (`mmap`).
        case map
        /// `FileSystem.listFiles` (`opendir`, `readdir`).
        case list

        /// The operations that change storage: a failure of one of them latches the database.
        package static let changing: Set<Operation> = [
            .write, .truncate, .sync, .syncDirectory, .create, .rename, .remove,
        ]
        /// The operations that only read: a failure of one of them fails the call that made it.
        package static let reading: Set<Operation> = [.open, .size, .read, .map, .list]

        package var description: String { rawValue }
    }

    /// How an operation fails.
    package enum Fault: String, Sendable, CaseIterable, CustomStringConvertible {
        /// `EIO`, nothing done: a dying disk.
        case eio
        /// `ENOSPC`, nothing done: a full disk.
        case enospc
        /// For a write, the first half of the bytes reach the file, then `ENOSPC` (a `pwrite`
        /// that wrote part and then found the disk full); other operations fail as ``enospc``.
        case shortWrite

        package var description: String {
            switch self {
            case .eio: return "EIO"
            case .enospc: return "ENOSPC"
            case .shortWrite: return "short write"
            }
        }
    }

    private struct Rule {
        var operations: Set<Operation>
        var failAt: Int
        var sticky: Bool
        var fault: Fault
    }

    private struct State {
        var rule: Rule?
        /// Operations matching the rule since it was armed.
        var matched = 0
        /// Every changing operation since the last ``resetCounters()``, by kind.
        var counts: [Operation: Int] = [:]
        var failures: [String] = []
        var tripped = false
    }

    /// The wrapped file system.
    package let base: any FileSystem
    private let state = Lock(State())  // protects the rule, the counters and the failure log

    package init(wrapping base: any FileSystem) {
        self.base = base
    }

    package var displayPath: String { base.displayPath }

    // MARK: Control

    /// Fails the `occurrence`th (1-based) operation among `operations` counted from now, and with
    /// `sticky` every changing operation and every operation of `operations` after it.
    package func arm(
        _ operations: Set<Operation>, failingAt occurrence: Int, sticky: Bool = false, fault: Fault = .eio
    ) {
        state.withLock {
            $0.rule = Rule(operations: operations, failAt: occurrence, sticky: sticky, fault: fault)
            $0.matched = 0
            $0.tripped = false
        }
    }

    /// Fails the `n`th write from now.
    package func failNthWrite(_ n: Int, sticky: Bool = false) { arm([.write], failingAt: n, sticky: sticky) }
    /// Fails the `n`th file sync from now.
    package func failNthSync(_ n: Int, sticky: Bool = false) { arm([.sync], failingAt: n, sticky: sticky) }
    /// Fails the `n`th creation of a file from now.
    package func failNthCreate(_ n: Int, sticky: Bool = false) { arm([.create], failingAt: n, sticky: sticky) }
    /// Fails the `n`th changing operation of any kind from now.
    package func failNthStep(_ n: Int, sticky: Bool = true) {
        arm(Operation.changing, failingAt: n, sticky: sticky)
    }

    /// Stops failing; counters are kept.
    package func disarm() {
        state.withLock {
            $0.rule = nil
            $0.tripped = false
        }
    }

    /// Whether an armed failure has fired.
    package var hasFailed: Bool { state.withLock { !$0.failures.isEmpty } }

    /// One line per failed operation, oldest first.
    package var failures: [String] { state.withLock { $0.failures } }

    /// Operations of `kind` since the last reset.
    package func count(of kind: Operation) -> Int { state.withLock { $0.counts[kind] ?? 0 } }

    /// Changing operations of any kind since the last reset.
    package var totalCount: Int {
        state.withLock { state in Operation.changing.reduce(0) { $0 + (state.counts[$1] ?? 0) } }
    }

    /// Sets every counter to zero and forgets past failures (the rule stays armed).
    package func resetCounters() {
        state.withLock {
            $0.counts = [:]
            $0.matched = 0
            $0.failures = []
            $0.tripped = false
        }
    }

    /// Counts one operation and throws when the rule says so.
    fileprivate func check(_ operation: Operation, _ what: @autoclosure () -> String) throws(PogrebError) {
        if let fault = decide(operation, what()) { throw Self.error(fault, operation, what()) }
    }

    /// Counts one operation and returns the fault it must suffer, if any.
    fileprivate func decide(_ operation: Operation, _ what: @autoclosure () -> String) -> Fault? {
        state.withLock { state -> Fault? in
            state.counts[operation, default: 0] += 1
            guard let rule = state.rule else { return nil }
            // After a sticky failure, every change fails, and so does every operation of the
            // armed kinds (reads keep working after a failed change, as before reads were counted).
            if state.tripped && rule.sticky
                && (Operation.changing.contains(operation) || rule.operations.contains(operation))
            {
                state.failures.append("\(operation) \(what()) (after the failure)")
                return rule.fault == .shortWrite ? .enospc : rule.fault
            }
            guard rule.operations.contains(operation) else { return nil }
            state.matched += 1
            guard state.matched == rule.failAt else { return nil }
            state.tripped = true
            state.failures.append("\(operation) \(what()) (\(rule.fault))")
            return rule.fault
        }
    }

    fileprivate static func error(_ fault: Fault, _ operation: Operation, _ what: String) -> PogrebError {
        let code = fault == .eio ? EIO : ENOSPC
        return PogrebError(.io, "injected failure (\(fault)): \(operation) \(what)", underlying: Errno(rawValue: code))
    }

    // MARK: FileSystem

    package func prepareDirectory(create: Bool) throws(PogrebError) { try base.prepareDirectory(create: create) }

    package func listFiles() throws(PogrebError) -> [String] {
        try check(.list, displayPath)
        return try base.listFiles()
    }

    package func open(_ name: String, _ mode: FileOpenMode) throws(PogrebError) -> any StorageFile {
        try check(mode == .createNew ? .create : .open, "\(name) (\(mode))")
        return FaultInjectingFile(base: try base.open(name, mode), owner: self)
    }

    package func remove(_ name: String) throws(PogrebError) {
        try check(.remove, name)
        try base.remove(name)
    }

    package func rename(_ from: String, to: String) throws(PogrebError) {
        try check(.rename, "\(from) to \(to)")
        try base.rename(from, to: to)
    }

    package func syncDirectory() throws(PogrebError) {
        try check(.syncDirectory, displayPath)
        try base.syncDirectory()
    }

    package func lockDirectory(exclusive: Bool) throws(PogrebError) -> any DirectoryLock {
        try base.lockDirectory(exclusive: exclusive)
    }
}

/// An open file of a ``FaultInjectingFileSystem``.
final class FaultInjectingFile: StorageFile {
    let base: any StorageFile
    let owner: FaultInjectingFileSystem

    init(base: any StorageFile, owner: FaultInjectingFileSystem) {
        self.base = base
        self.owner = owner
    }

    var name: String { base.name }

    func size() throws(PogrebError) -> Int64 {
        try owner.check(.size, name)
        return try base.size()
    }

    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(PogrebError) -> Int {
        try owner.check(.read, "\(buffer.count) bytes of \(name) at \(offset)")
        return try unsafe base.read(into: buffer, at: offset)
    }

    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws(PogrebError) {
        let what = "\(bytes.count) bytes to \(name) at \(offset)"
        if let fault = owner.decide(.write, what) {
            if fault == .shortWrite, bytes.count > 1 {
                try unsafe base.write(UnsafeRawBufferPointer(rebasing: bytes[0..<(bytes.count / 2)]), at: offset)
            }
            throw FaultInjectingFileSystem.error(fault, .write, what)
        }
        try base.write(bytes, at: offset)
    }

    func truncate(to size: Int64) throws(PogrebError) {
        try owner.check(.truncate, "\(name) to \(size)")
        try base.truncate(to: size)
    }

    func sync() throws(PogrebError) {
        try owner.check(.sync, name)
        try base.sync()
    }

    func map(length: Int, randomAccess: Bool) throws(PogrebError) -> MappedRegion {
        try owner.check(.map, "\(length) bytes of \(name)")
        return try base.map(length: length, randomAccess: randomAccess)
    }

    func dropCache() { base.dropCache() }

    func close() { base.close() }
}
