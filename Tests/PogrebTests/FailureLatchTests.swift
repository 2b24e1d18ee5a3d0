import PogrebTestSupport
import Testing
@testable import Pogreb

/// The failure latch: every path that writes or syncs latches its I/O failure (backup's
/// checkpoint and iteration's flush included), and nothing else latches.
@Suite struct FailureLatchTests {
    @Test(arguments: FileSystemKind.allCases)
    func backupCheckpointFailureLatches(kind: FileSystemKind) throws {
        // Each of the first steps of the checkpoint that a backup writes first fails in turn.
        var step = 0
        try FaultTests.failEachStep(of: "backup checkpoint", kind: kind, steps: 1...8) { db in
            step += 1
            try db.backup(to: MemoryFileSystem(displayPath: "/backup-\(step)"))
        }
    }

    /// A checkpoint whose journal became durable but whose application to the index files failed
    /// (the `fdatasync` of `index.pgi` returns EIO) has taken its sequence number: the failure
    /// latches, so no later checkpoint of this value writes that sequence again over its journal,
    /// and the next open redoes that journal and goes on from the next sequence.
    @Test(arguments: FileSystemKind.allCases)
    func failedJournalApplicationNeverReusesItsSequence(kind: FileSystemKind) throws {
        try withTestDatabase(kind, configure: FaultTests.options) { t in
            let faulty = FaultInjectingFileSystem(wrapping: t.fileSystem)
            let db = try t.open(through: faulty)
            var model = ReferenceModel()
            for i in 0..<300 {
                try db.put(key(i), value(i))
                model.put(key(i), value(i))
            }
            let sequence = try db.statistics.lastCheckpoint + 1
            let slot = DatabaseFiles.checkpoint(sequence: sequence)
            // Syncs of the checkpoint: the active segment, the journal, then index.pgi.
            faulty.failNthSync(3)
            expectPogrebError(.io) { try db.checkpoint() }
            #expect(faulty.failures.first?.contains(DatabaseFiles.index) == true, "\(faulty.failures)")
            let journal = try t.contents(of: slot)
            let writes = faulty.count(of: .write)
            faulty.disarm()
            try FaultTests.expectLatched(db, model: model, "after a failed journal application (\(kind))")
            #expect(try t.contents(of: slot) == journal, "the journal of checkpoint \(sequence) was rewritten")
            #expect(faulty.count(of: .write) == writes, "something was written after the failure")
            #expect(try db.statistics.lastCheckpoint == sequence - 1)
            FaultTests.closeLatched(db)
            #expect(try t.contents(of: slot) == journal, "close rewrote the journal of checkpoint \(sequence)")

            let again = try t.open()
            #expect(try again.statistics.lastCheckpoint == sequence, "the open redid the durable journal")
            for (k, v) in model.entries { #expect(try again.get(k) == v) }
            try again.put(key(1_000), value(1_000))
            try again.checkpoint()
            #expect(try again.statistics.lastCheckpoint == sequence + 1)
            try again.close()
        }
    }

    @Test(arguments: FileSystemKind.allCases)
    func iterationFlushFailureLatches(kind: FileSystemKind) throws {
        try withTestDatabase(kind, configure: FaultTests.options) { t in
            let faulty = FaultInjectingFileSystem(wrapping: t.fileSystem)
            let db = try t.open(through: faulty)
            var model = ReferenceModel()
            for i in 0..<20 {  // fewer bytes than the write buffer: nothing written yet
                try db.put(key(i), value(i))
                model.put(key(i), value(i))
            }
            // Iteration first flushes the buffer; that write fails.
            faulty.failNthWrite(1)
            let error = pogrebError { try db.forEachItem { _ in } }
            #expect(faulty.hasFailed)
            #expect(error?.code == .io)
            try FaultTests.expectLatched(db, model: model, "after a failed flush for iteration (\(kind))")
            FaultTests.closeLatched(db)
        }
    }

    @Test(arguments: FileSystemKind.allCases)
    func failureOfABackupDestinationDoesNotLatch(kind: FileSystemKind) throws {
        try withTestDatabase(kind, configure: FaultTests.options) { t in
            let db = try t.open()
            for i in 0..<100 { try db.put(key(i), value(i)) }
            let destination = FaultInjectingFileSystem(wrapping: MemoryFileSystem(displayPath: "/backup"))
            destination.failNthWrite(1, sticky: true)
            let error = pogrebError { try db.backup(to: destination) }
            #expect(error?.code == .io)
            // The source's files are fine: it goes on writing and syncing.
            try db.put(key(100), value(100))
            try db.sync()
            try db.close()
        }
    }

    /// A damaged overflow chain met by the probe of a put throws `corrupted` with nothing
    /// changed: it is not latched, so other keys are still written, and `close` checkpoints.
    @Test(arguments: FileSystemKind.allCases)
    func damagedChainMetByAProbeDoesNotLatch(kind: FileSystemKind) throws {
        try withTestDatabase(kind, configure: FaultTests.options) { t in
            var db = try t.open()
            for i in 0..<3_000 { try db.put(key(i), value(i)) }
            try db.close()
            // Point the chain of the first main bucket that has an overflow bucket far past the
            // overflow file. In the index files such damage fails the bucket's checksum and the
            // open rebuilds the index; so it is made in memory, after the open, as damage a probe
            // meets (a file changed under the mapping, a bug).
            db = try t.open()
            let damaged: UInt64? = try db.shared.withWriteLock { (state) throws -> UInt64? in
                for number in 0..<state.index.bucketCount {
                    var bucket = try state.index.bucket(.main(number))
                    if bucket.next != 0 {
                        bucket.next = Bucket.maxOverflowNumber
                        state.index.dirty[.main(number)] = bucket
                        return number
                    }
                }
                return nil
            }
            let number = try #require(damaged, "3 000 keys in a small index leave at least one overflow bucket")
            // A new key of that bucket: its probe walks the whole chain and meets the damage.
            let (victim, bystander) = try db.shared.withReadLock { (state) throws -> ([UInt8], [UInt8]) in
                var victim: [UInt8]?
                var bystander: [UInt8]?
                for i in 100_000..<200_000 where victim == nil || bystander == nil {
                    let hash = key(i).withUnsafeBytes { XXH3.hash64($0, seed: db.hashSeed) }
                    if state.index.mainBucketNumber(forHash: hash) == number {
                        victim = victim ?? key(i)
                    } else {
                        bystander = bystander ?? key(i)
                    }
                }
                return (try #require(victim), try #require(bystander))
            }
            expectPogrebError(.corrupted) { try db.put(victim, value(1)) }
            try db.put(bystander, value(2))
            #expect(try db.get(bystander) == value(2))
            try db.sync()
            try db.close()
        }
    }
}
