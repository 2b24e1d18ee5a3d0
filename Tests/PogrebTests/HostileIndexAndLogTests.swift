import Foundation
import Synchronization
import PogrebTestSupport
import Testing
@testable import Pogreb

/// Hostile counts and damaged index buckets: typed errors, never a trap.
@Suite struct HostileIndexAndLogTests {
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
            unsafe Record.append(
                kind: .commit, flags: .batch, key: UnsafeRawBufferPointer(start: nil, count: 0), value: v, to: &contents
            )
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
        func word(_ b: [UInt8], _ at: Int) -> UInt64 {
            (0..<8).reduce(UInt64(0)) { $0 | UInt64(b[at + $1]) << (8 * UInt64($1)) }
        }
        var victim: UInt64?
        let bucketCount = (index.count - 4096) / 64
        for n in 0..<bucketCount {
            let next = word(index, 4096 + 64 * n + 56) & ((1 << 48) - 1)
            if next != 0 {
                victim = next
                break
            }
        }
        guard let victim else {
            Issue.record("no chain")
            return
        }
        // zero the overflow bucket (a damaged page)
        let at = 4096 + 64 * Int(victim)
        for i in 0..<64 { overflow[at + i] = 0 }
        fs.setContents(of: DatabaseFiles.overflow, to: overflow)
        let reopened = try Database.open(fileSystem: fs)
        defer { try? reopened.close() }
        let codes = Self.deleteCodes(reopened, count: 2000)
        // Every delete into the broken chain reports it; a delete probes the whole chain before it
        // changes anything, so none of them latches, and none says an earlier write failed.
        #expect(codes.first == .corrupted)
        #expect(codes.allSatisfy { $0 == .corrupted }, "\(codes)")
    }

    /// A checkpoint journal whose changed buckets include an id far past the index (`1 << 57`,
    /// with correct checksums) is refused while it is decoded: the open, read-only or writable,
    /// keeps the previous checkpoint (whose index is intact), every key stays readable, and
    /// nothing traps computing the bucket's file offset (`applyJournal` once did).
    @Test(arguments: FileSystemKind.allCases)
    func aJournalBucketIDPastTheIndexIsRefusedWhileDecoding(_ kind: FileSystemKind) throws {
        try withTestDatabase(kind) { test in
            let db = try test.open()
            for i in 0..<100 { try db.put(key(i), value(i)) }
            try db.close()
            // A newer journal, as a crash right after writing it would leave: the index still
            // names the checkpoint before. Its buckets would empty main bucket 0 and write one
            // bucket at 1 << 57.
            let (newest, databaseID) = try Database.newestCheckpoint(fileSystem: test.fileSystem)
            var crafted = newest
            crafted.sequence = newest.sequence + 1
            crafted.changedBuckets = [
                (id: .main(0), bucket: Bucket()), (id: BucketID(rawValue: 1 << 57), bucket: Bucket()),
            ]
            let journal = Checkpoint.fileName(sequence: crafted.sequence)
            try test.setContents(of: journal, to: crafted.encoded(databaseID: databaseID))
            var decodeError: PogrebError?
            do throws(PogrebError) {
                _ = try Database.readCheckpoint(
                    fileSystem: test.fileSystem, slot: Int(crafted.sequence & 1), withBuckets: true)
            } catch { decodeError = error }
            let idOffset = Int64(crafted.metadataLength() + 72)
            #expect(decodeError?.code == .corrupted)
            #expect(
                decodeError?.message.contains("\(journal) at offset \(idOffset)") == true,
                "\(String(describing: decodeError))")
            for readOnly in [true, false] {
                let reopened = try test.open { $0.readOnly = readOnly }
                defer { try? reopened.close() }
                for i in 0..<100 { #expect(try reopened.get(key(i)) == value(i), "key \(i), read-only \(readOnly)") }
            }
        }
    }

    /// The error code of each failing `delete(key(i))`, i in 0..<count.
    static func deleteCodes(_ db: Database, count: Int) -> [PogrebError.Code] {
        var codes: [PogrebError.Code] = []
        for i in 0..<count {
            do throws(PogrebError) { _ = try db.delete(key(i)) } catch { codes.append(error.code) }
        }
        return codes
    }
}
