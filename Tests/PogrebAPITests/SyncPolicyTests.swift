import PogrebTestSupport
import Testing

@testable import Pogreb

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What the sync policies cost in `fdatasync`s.
@Suite struct SyncPolicyTests {
    /// Waits up to `seconds` for `condition`.
    static func eventually(_ seconds: Double, _ condition: () -> Bool) -> Bool {
        var waited = 0.0
        while waited < seconds {
            if condition() { return true }
            usleep(5_000)
            waited += 0.005
        }
        return condition()
    }

    /// Under `.interval`, a write is synced within about one interval, and an idle database is
    /// not synced at all.
    @Test func intervalSyncsWrittenDataAndLeavesAnIdleDatabaseAlone() throws {
        let fileSystem = FaultInjectingFileSystem(wrapping: MemoryFileSystem(displayPath: "memory:/db"))
        var options = Options()
        options.syncPolicy = .interval(milliseconds: 5)
        let db = try Database.open(fileSystem: fileSystem, options: options)
        defer { try? db.close() }
        usleep(50_000)
        let idle = fileSystem.fileSyncs
        usleep(100_000)  // twenty intervals with nothing written
        #expect(fileSystem.fileSyncs == idle, "an idle database was synced \(fileSystem.fileSyncs - idle) times")
        try db.put(bytes("k"), bytes("v"))
        #expect(Self.eventually(5) { fileSystem.fileSyncs > idle }, "the write was never synced")
        usleep(50_000)
        let afterWrite = fileSystem.fileSyncs
        usleep(100_000)
        #expect(fileSystem.fileSyncs == afterWrite)
    }

    /// A `sync()` with nothing written since the last completed one costs no `fdatasync`, as
    /// the Durability article and DESIGN say.
    @Test func aSyncWithNothingWrittenSinceTheLastCostsNoFdatasync() throws {
        let fileSystem = FaultInjectingFileSystem(wrapping: MemoryFileSystem(displayPath: "memory:/db"))
        let db = try Database.open(fileSystem: fileSystem, options: Options())
        defer { try? db.close() }
        let atOpen = fileSystem.fileSyncs
        try db.sync()
        #expect(fileSystem.fileSyncs == atOpen, "a sync right after a clean open")
        try db.put(bytes("k"), bytes("v"))
        try db.sync()
        let afterWrite = fileSystem.fileSyncs
        #expect(afterWrite == atOpen + 1, "a sync after a write costs one fdatasync")
        try db.sync()
        try db.sync()
        #expect(fileSystem.fileSyncs == afterWrite, "idle syncs")
    }

    /// Records written to the file by a process that died before syncing them are replayed by
    /// the next open; that open's first `sync()` makes them durable, even with nothing written
    /// before it.
    @Test func theFirstSyncAfterReplayingAnUnsyncedTailMakesItDurable() throws {
        let memory = MemoryFileSystem(displayPath: "memory:/db")
        var options = Options()
        options.writeBufferSize = 4096
        let db = try Database.open(fileSystem: memory, options: options)
        let value = [UInt8](repeating: 7, count: 100)
        for i in 0..<200 { try db.put(bytes("key-\(i)"), value) }
        // Killed: the flushed writes are in the file (the page cache) but were never synced.
        db.shared.withWriteLock { $0.isClosed = true }
        db.directoryLock.unlock()

        let reopened = try Database.open(fileSystem: memory, options: options)
        var visible: [Int] = []
        for i in 0..<200 where try reopened.get(bytes("key-\(i)")) != nil { visible.append(i) }
        #expect(visible.count > 100, "the flushed records were replayed")
        try reopened.sync()
        // A power cut now keeps only what was synced.
        let image = memory.crashImage()
        let afterPowerCut = try Database.open(fileSystem: image, options: options)
        defer { try? afterPowerCut.close() }
        var lost: [Int] = []
        for i in visible where try afterPowerCut.get(bytes("key-\(i)")) != value { lost.append(i) }
        #expect(lost.isEmpty, "\(lost.count) keys seen after the reopen and its sync() were lost by a power cut")
        reopened.shared.withWriteLock { $0.isClosed = true }
        reopened.directoryLock.unlock()
    }
}
