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
}
