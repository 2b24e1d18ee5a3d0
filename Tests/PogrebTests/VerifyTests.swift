import PogrebTestSupport
import Testing
@testable import Pogreb

/// What `verify()` reports: the file and offset of every problem.
@Suite struct VerifyTests {
    /// A problem in an overflow bucket is reported under `overflow.pgo`, at that bucket's offset
    /// (it was once reported under `index.pgi` at the offset of the chain's main bucket).
    @Test(arguments: FileSystemKind.allCases)
    func verifyNamesTheOverflowFileForAnOverflowBucket(kind: FileSystemKind) throws {
        try withTestDatabase(kind, configure: smallOptions) { t in
            var db = try t.open()
            for i in 0..<3_000 { try db.put(key(i), value(i)) }
            try db.close()
            // Flip a bit of the checksum of the first overflow bucket that is in use (has a slot).
            var damaged: UInt64?
            try t.modify(DatabaseFiles.overflow) { bytes in
                let count = UInt64((bytes.count - Int(BucketID.headerPageSize)) / Bucket.size)
                for number in 1..<count {
                    let at = Int(BucketID.overflow(number).fileOffset)
                    if bytes[at..<(at + 8)].contains(where: { $0 != 0 }) {
                        bytes[at + 63] ^= 0x01
                        damaged = number
                        return
                    }
                }
            }
            let number = try #require(damaged, "3 000 keys in a small index use overflow buckets")
            // Read-only: a writable open would notice the damage and rebuild the index.
            db = try t.open { $0.readOnly = true }
            defer { try? db.close() }
            let report = try db.verify()
            let expected = BucketID.overflow(number).fileOffset
            let problem = try #require(
                report.problems.first { $0.what.contains("checksum") }, "\(report.problems)")
            #expect(problem.file.hasSuffix("/" + DatabaseFiles.overflow), "\(problem)")
            #expect(problem.offset == expected, "\(problem)")
            #expect(problem.what.contains("overflow bucket \(number)"), "\(problem)")
        }
    }
}
