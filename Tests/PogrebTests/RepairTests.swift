import Foundation
import Synchronization
import PogrebTestSupport
import Testing
@testable import Pogreb

/// `Database.repair(at:)` and the automatic rebuild at open.
@Suite struct RepairTests {
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

    /// The automatic rebuild reads the whole log before it deletes anything: a bad record in a
    /// sealed segment fails it while the old checkpoints and index are still there.
    @Test func aRebuildThatFailsOnADamagedSegmentLeavesTheOldIndex() throws {
        let fs = MemoryFileSystem()
        let db = try Database.open(fileSystem: fs)
        for i in 0..<10 { try db.put(key(i), value(i)) }
        try db.writer.withLock { (w) throws(PogrebError) in try db.rotate(writer: &w) }
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

    /// A damaged overflow chain in `index.pgi` met while replaying the tail (a replayed put of a
    /// new key walks it) is index damage: a writable open rebuilds the index from the log, as for
    /// damage found while loading the index, and keeps every record. A read-only open cannot
    /// rebuild: it reports `corrupted`, naming the file, and advises `repair`, not a reopen.
    @Test(arguments: FileSystemKind.allCases)
    func indexDamageMetDuringReplayRebuildsTheIndex(kind: FileSystemKind) throws {
        try withTestDatabase(kind) { t in
            var model = ReferenceModel()
            var db = try t.open()
            for i in 0..<3_000 {
                try db.put(key(i), value(i))
                model.put(key(i), value(i))
            }
            try db.close()
            // A tail of new keys, replayed at the next open onto the index of the close.
            db = try t.open()
            for i in 3_000..<5_000 {
                try db.put(key(i), value(i))
                model.put(key(i), value(i))
            }
            try db.sync()
            abandon(db)
            // Every overflow chain in index.pgi points far past the overflow file.
            var damaged = 0
            try t.modify(DatabaseFiles.index) { bytes in
                let count = UInt64((bytes.count - Int(BucketID.headerPageSize)) / Bucket.size)
                for number in 0..<count {
                    let at = Int(BucketID.fileOffset(ofNumber: number)) + 56
                    if bytes[at..<(at + 6)].contains(where: { $0 != 0 }) {
                        for i in 0..<6 { bytes[at + i] = 0xFF }
                        bytes[at + 5] = 0x7F
                        damaged += 1
                    }
                }
            }
            #expect(damaged > 0, "3 000 keys in a small index leave overflow buckets")
            let error = expectPogrebError(.corrupted) { _ = try t.open { $0.readOnly = true } }
            if let error {
                #expect(error.message.contains(DatabaseFiles.index), "\(error.message)")
                #expect(!error.message.lowercased().contains("reopen"), "\(error.message)")
                #expect(error.message.contains("repair"), "\(error.message)")
            }
            db = try t.open()
            let statistics = try db.statistics
            #expect(statistics.indexRebuiltAtOpen != nil, "the open rebuilt the index")
            try checkInvariants(db, model: model)
            try db.close()
        }
    }

    /// A repair that fails at any one of its changing steps — `ENOSPC` injected at each write,
    /// sync, creation, rename and removal in turn — leaves a database that opens with every key;
    /// failing before its first rename, it leaves the database exactly as it was (same files, no
    /// rebuild at the next open).
    @Test(arguments: FileSystemKind.allCases)
    func aRepairThatFailsOnAFullDiskLeavesTheDatabaseAsItWas(kind: FileSystemKind) throws {
        try kind.withFreshDatabase { fileSystem, baseOptions in
            var options = baseOptions
            options.segmentSize = 1 << 20
            let count = 3_000
            let db = try Database.open(fileSystem: fileSystem, options: options)
            for i in 0..<count { try db.put(key(i), value(i, length: 300)) }
            try db.close()

            let faulty = FaultInjectingFileSystem(wrapping: fileSystem)
            var step = 1
            var failuresBeforeTheSwitch = 0
            while step < 10_000 {
                let names = try fileSystem.listFiles().sorted()
                faulty.resetCounters()
                faulty.arm(FaultInjectingFileSystem.Operation.changing, failingAt: step, fault: .enospc)
                do {
                    _ = try Database.repair(fileSystem: faulty)
                } catch {
                    faulty.disarm()
                    #expect(faulty.hasFailed, "step \(step): \(error)")
                    let switchStarted = faulty.count(of: .rename) > 0
                    if !switchStarted {
                        failuresBeforeTheSwitch += 1
                        #expect(try fileSystem.listFiles().sorted() == names, "step \(step): the same files")
                    }
                    let reopened = try Database.open(fileSystem: fileSystem, options: options)
                    if !switchStarted {
                        #expect(try reopened.statistics.indexRebuiltAtOpen == nil, "step \(step): no rebuild")
                    }
                    var wrong = 0
                    for i in 0..<count where try reopened.get(key(i)) != value(i, length: 300) { wrong += 1 }
                    #expect(wrong == 0, "step \(step) (\(faulty.failures)): \(wrong) keys lost")
                    #expect(try reopened.count == count)
                    try reopened.close()
                    step += 1
                    continue
                }
                break
            }
            #expect(failuresBeforeTheSwitch > 5, "faults were injected before the switch")
            let repaired = try Database.open(fileSystem: fileSystem, options: options)
            defer { try? repaired.close() }
            #expect(try repaired.count == count)
            #expect(try repaired.verify().isClean)
        }
    }
}
