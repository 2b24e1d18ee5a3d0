import Foundation
import Synchronization
import PogrebTestSupport
import Testing
@testable import Pogreb

/// Reads nested in a `withValue` closure, and the calls refused there.
@Suite struct NestedReadTests {
    /// Reading the database from inside withValue's body while a writer waits completes (the
    /// nested read does not lock again); a write from inside is refused, not a deadlock.
    @Test func aReadInsideWithValueDoesNotDeadlockWithAWaitingWriter() throws {
        let db = try Database.open(fileSystem: MemoryFileSystem())
        try db.put(bytes("k"), bytes("v"))
        let entered = DispatchSemaphore(value: 0)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            _ = try? db.withValue(forKey: bytes("k")) { _ in
                entered.signal()
                Thread.sleep(forTimeInterval: 0.3)  // the writer queues on the lock meanwhile
                return try db.get(bytes("k"))
            }
            done.signal()
        }
        entered.wait()
        Thread.detachNewThread { try? db.put(bytes("k"), bytes("w")) }
        let finished = done.wait(timeout: .now() + 5) == .success
        #expect(finished, "withValue { get } deadlocked against a waiting writer")
        var refused: PogrebError.Code?
        _ = try db.withValue(forKey: bytes("k")) { _ in
            do { try db.put(bytes("k"), bytes("x")) } catch let error as PogrebError { refused = error.code }
        }
        #expect(refused == .invalidArgument)
    }

    /// A read of one database inside a read of another locks the second one (the thread's list
    /// of held locks names each lock), and a write to the second from there is allowed.
    @Test func aReadOfAnotherDatabaseInsideWithValueLocksItAndMayWrite() throws {
        let first = try Database.open(fileSystem: MemoryFileSystem())
        let second = try Database.open(fileSystem: MemoryFileSystem())
        try first.put(bytes("k"), bytes("1"))
        try second.put(bytes("k"), bytes("2"))
        let (inner, heldInside, firstHeld) = try first.withValue(forKey: bytes("k")) { _ in
            let inner = try second.withValue(forKey: bytes("k")) { value in
                (value.map { Array($0) }, second.shared.isReadHeldByCurrentThread)
            }
            try second.put(bytes("k"), bytes("3"))  // not refused: this thread holds only `first`
            return (inner.0, inner.1, first.shared.isReadHeldByCurrentThread)
        }
        #expect(inner == bytes("2"))
        #expect(heldInside)
        #expect(firstHeld)
        #expect(!first.shared.isReadHeldByCurrentThread && !second.shared.isReadHeldByCurrentThread)
        #expect(try second.get(bytes("k")) == bytes("3"))
    }
}
