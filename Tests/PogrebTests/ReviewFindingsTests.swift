import Foundation
import Synchronization
import PogrebTestSupport
import Testing
@testable import Pogreb

/// Findings of the engine review, each kept as a test of the behaviour that is now right.
@Suite struct ReviewFindingsTests {
    static func rotate(_ db: Database) throws {
        try db.writer.withLock { (w) throws(PogrebError) in try db.rotate(writer: &w) }
    }

    /// A key written twice with the same value before a walk, whose newer record compaction moves
    /// before the walk checks the older one, is returned once.
    @Test func anUntouchedKeyIsReturnedOnceWhileCompactionMovesItsRecords() throws {
        var options = Options()
        smallOptions(&options)
        options.compactionMinDeadBytes = 1
        options.compactionMinDeadFraction = 0
        let db = try Database.open(fileSystem: MemoryFileSystem(), options: options)
        defer { try? db.close() }
        // S1: 300 live fillers, then K = v (older record, A1).
        for i in 0..<300 { try db.put(key(i), value(i)) }
        try db.put(bytes("K"), bytes("v"))
        try Self.rotate(db)
        // S2: K = v again (A2, current), plus some garbage so S2 qualifies.
        try db.put(bytes("K"), bytes("v"))
        try db.put(bytes("X"), bytes("a"))
        try db.put(bytes("X"), bytes("b"))
        try Self.rotate(db)

        var iterator = db.items().makeIterator()
        var seen: [[UInt8]: Int] = [:]
        guard let first = iterator.next() else { Issue.record("empty"); return }
        seen[first.key, default: 0] += 1
        // Compaction runs while the walk is inside S1, before it reaches A1.
        let result = try db.compact()
        #expect(result.segmentsCompacted >= 1)
        while let item = iterator.next() { seen[item.key, default: 0] += 1 }
        #expect(iterator.failure == nil)
        #expect(seen[bytes("K")] == 1, "K returned \(seen[bytes("K")] ?? 0) times; the key was not written during the walk")
    }

    /// A CRC-valid commit record whose count does not fit an Int is `corrupted`, naming the file
    /// and offset; it never traps.
    @Test func aCommitCountBeyondIntIsCorruptionNotATrap() throws {
        let fs = MemoryFileSystem()
        var db: Database? = try Database.open(fileSystem: fs)
        try db?.put(bytes("a"), bytes("1"))
        try db?.close()
        db = nil
        let name = DatabaseFiles.segment(sequence: 1)
        var contents = try #require(fs.contents(of: name))
        let count: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0x80]
        unsafe count.withUnsafeBytes { v in
            unsafe Record.append(kind: .commit, flags: .batch, key: UnsafeRawBufferPointer(start: nil, count: 0), value: v, to: &contents)
        }
        fs.setContents(of: name, to: contents)
        // Its checksum is right, so it is no torn write: the open reports the damage.
        let error = #expect(throws: PogrebError.self) { try Database.open(fileSystem: fs) }
        #expect(error?.code == .corrupted)
        #expect(error?.message.contains("segment-0000000000000001.pgl") == true)
    }

    /// A damaged overflow bucket (all zero) at the end of a chain makes `delete` throw
    /// `corrupted` rather than trap.
    @Test func aZeroedOverflowBucketMakesDeleteThrowNotTrap() throws {
        let fs = MemoryFileSystem()
        let db = try Database.open(fileSystem: fs)
        for i in 0..<2000 { try db.put(key(i), value(i)) }
        try db.close()
        // Find a main bucket with a chain.
        let index = try #require(fs.contents(of: DatabaseFiles.index))
        var overflow = try #require(fs.contents(of: DatabaseFiles.overflow))
        func word(_ b: [UInt8], _ at: Int) -> UInt64 { (0..<8).reduce(UInt64(0)) { $0 | UInt64(b[at + $1]) << (8 * UInt64($1)) } }
        var victim: UInt64?
        let bucketCount = (index.count - 4096) / 64
        for n in 0..<bucketCount {
            let next = word(index, 4096 + 64 * n + 56) & ((1 << 48) - 1)
            if next != 0 { victim = next; break }
        }
        guard let victim else { Issue.record("no chain"); return }
        // zero the overflow bucket (a damaged page)
        let at = 4096 + 64 * Int(victim)
        for i in 0..<64 { overflow[at + i] = 0 }
        fs.setContents(of: DatabaseFiles.overflow, to: overflow)
        let reopened = try Database.open(fileSystem: fs)
        defer { try? reopened.close() }
        let codes = Self.deleteCodes(reopened, count: 2000)
        // The first delete into the broken chain reports it; the write path then refuses further
        // writes (the failure latch) until a reopen.
        #expect(codes.first == .corrupted)
        #expect(codes.allSatisfy { $0 == .corrupted || $0 == .previousIOFailure }, "\(codes)")
    }

    /// The error code of each failing `delete(key(i))`, i in 0..<count.
    static func deleteCodes(_ db: Database, count: Int) -> [PogrebError.Code] {
        var codes: [PogrebError.Code] = []
        for i in 0..<count {
            do throws(PogrebError) { _ = try db.delete(key(i)) } catch { codes.append(error.code) }
        }
        return codes
    }

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
}

@Suite struct ReviewFindingsRepairTests {
    /// A newest segment whose header never reached the disk but whose length did (zeros past 64
    /// bytes): open drops it, repair refuses the directory.
    @Test func repairDropsAZeroHeaderNewestSegmentAsOpenDoes() throws {
        let fs = MemoryFileSystem()
        let db = try Database.open(fileSystem: fs)
        try db.put(bytes("a"), bytes("1"))
        try db.close()
        fs.setContents(of: DatabaseFiles.segment(sequence: 2), to: [UInt8](repeating: 0, count: 200))
        let image = fs.copy()
        let opened = try Database.open(fileSystem: image)
        #expect(try opened.get(bytes("a")) == bytes("1"))
        try opened.close()
        do {
            _ = try Database.repair(fileSystem: fs)
        } catch {
            Issue.record("repair failed where open succeeds: \(error)")
        }
    }
}

extension ReviewFindingsRepairTests {
    /// The automatic rebuild reads the whole log before it deletes anything: a bad record in a
    /// sealed segment fails it while the old checkpoints and index are still there.
    @Test func aRebuildThatFailsOnADamagedSegmentLeavesTheOldIndex() throws {
        let fs = MemoryFileSystem()
        let db = try Database.open(fileSystem: fs)
        for i in 0..<10 { try db.put(key(i), value(i)) }
        try ReviewFindingsTests.rotate(db)
        for i in 10..<20 { try db.put(key(i), value(i)) }
        try db.close()
        // bit rot in the sealed segment 1 (last record's value)
        var seg = try #require(fs.contents(of: DatabaseFiles.segment(sequence: 1)))
        seg[seg.count - 1] ^= 0xFF
        fs.setContents(of: DatabaseFiles.segment(sequence: 1), to: seg)
        let healthy = try Database.open(fileSystem: fs.copy())
        #expect(try healthy.get(key(15)) == value(15))
        try healthy.close()
        // a torn index header (crash in checkpoint step 6)
        var index = try #require(fs.contents(of: DatabaseFiles.index))
        index[40] ^= 0x01
        fs.setContents(of: DatabaseFiles.index, to: index)
        #expect(throws: PogrebError.self) { _ = try Database.open(fileSystem: fs) }
        let names = try fs.listFiles().sorted()
        #expect(names.contains("checkpoint-1.pgc") || names.contains("checkpoint-0.pgc"), "files left: \(names)")
        #expect(names.contains(DatabaseFiles.index), "files left: \(names)")
    }
}
