import PogrebTestSupport
import Testing

@testable import Pogreb

/// `Bucket.decode` and the bucket checksum against hostile bytes.
///
/// What it promises: it reads 64 bytes through a ``ByteReader``, which throws `corrupted` naming
/// the file and the absolute offset when the bytes run out, and checks bytes 60..<64 against the
/// CRC32C of bytes 0..<60 continued over the bucket's id: any single flipped bit, an all-zero
/// bucket and a bucket stored under another id are `corrupted`, at the bucket's offset. It judges
/// no field: unpacked slots come back as they are, for the verifier (`occupied`) to judge.
@Suite("Bucket decoding")
struct BucketDecodingTests {
    static let file = "/db/index.pgi"

    static func randomBucket(_ random: inout SeededGenerator) -> Bucket {
        var bucket = Bucket()
        let used = Int.random(in: 0...Bucket.slotCount, using: &random)
        for i in 0..<used {
            bucket.setSlot(
                i, Bucket.makeSlot(tag: UInt16.random(in: 0...UInt16.max, using: &random), address: random.next() | 1))
        }
        bucket.next = random.next()
        return bucket
    }

    static func decode(_ bytes: [UInt8], id: BucketID = .main(3), baseOffset: Int64 = 0) -> Result<Bucket, PogrebError>
    {
        var reader = ByteReader(bytes, file: file, baseOffset: baseOffset)
        return Result { () throws(PogrebError) in try Bucket.decode(&reader, id: id) }
    }

    static let ids: [BucketID] = [
        .main(0), .main(3), .main(1 << 39), .overflow(1), .overflow(3), .overflow(1 << 32 - 1),
    ]

    // MARK: Round trips

    @Test func roundTrip() throws {
        var random = SeededGenerator.make("bucket round trip")
        var full = Bucket()
        for i in 0..<Bucket.slotCount { full.setSlot(i, Bucket.makeSlot(tag: .max, address: Bucket.addressMask)) }
        full.next = Bucket.maxOverflowNumber
        var samples = [Bucket(), full]
        for _ in 0..<200 { samples.append(Self.randomBucket(&random)) }
        for (n, bucket) in samples.enumerated() {
            let id = Self.ids[n % Self.ids.count]
            let bytes = bucket.encoded(id: id)
            #expect(bytes.count == Bucket.size)
            var writer = ByteWriter()
            writer.append(UInt8(7))
            bucket.append(to: &writer, id: id)
            #expect(Array(writer.bytes.dropFirst()) == bytes)
            #expect(try Self.decode(bytes, id: id).get() == bucket)
            #expect(bucket.next <= Bucket.maxOverflowNumber)
        }
    }

    /// The stored checksum is the documented one (docs/FORMAT.md, section 5), whatever the CPU.
    @Test func checksumIsCRC32COfTheFirst60BytesThenTheID() {
        var random = SeededGenerator.make("bucket checksum")
        for n in 0..<100 {
            let id = Self.ids[n % Self.ids.count]
            let bytes = Self.randomBucket(&random).encoded(id: id)
            var idBytes = ByteWriter()
            idBytes.append(id.rawValue)
            let expected = unsafe Array(bytes[0..<60]).withUnsafeBytes { head in
                unsafe idBytes.bytes.withUnsafeBytes { tail in
                    unsafe CRC32C.portableChecksum(tail, continuing: CRC32C.portableChecksum(head))
                }
            }
            let stored = (60..<64).reduce(UInt32(0)) { $0 | UInt32(bytes[$1]) << (8 * UInt32($1 - 60)) }
            #expect(stored == expected, "\(id)")
        }
    }

    @Test func consecutiveBucketsAdvanceTheReader() throws {
        var random = SeededGenerator.make("bucket sequence")
        let buckets = (0..<5).map { _ in Self.randomBucket(&random) }
        var reader = ByteReader(
            buckets.enumerated().flatMap { $1.encoded(id: .main(UInt64($0))) }, file: Self.file, baseOffset: 4096)
        for (i, bucket) in buckets.enumerated() {
            #expect(reader.offset == 4096 + Int64(i * Bucket.size))
            #expect(try Bucket.decode(&reader, id: .main(UInt64(i))) == bucket)
        }
        #expect(reader.remaining == 0)
        // One more is past the end, at the right offset.
        #expect(throws: PogrebError.self) { try Bucket.decode(&reader, id: .main(5)) }
    }

    // MARK: Truncation

    @Test func everyTruncationIsCorrupted() {
        var random = SeededGenerator.make("bucket truncation")
        let bytes = Self.randomBucket(&random).encoded(id: .main(3))
        for base in [0, 4096, 1 << 40] as [Int64] {
            for length in 0..<bytes.count {
                guard case .failure(let error) = Self.decode(Array(bytes[0..<length]), baseOffset: base) else {
                    Issue.record("a bucket of \(length) bytes decoded")
                    continue
                }
                #expect(error.code == .corrupted)
                #expect(error.message.contains(Self.file))
                #expect(error.message.contains("at offset \(base):"), "\(error)")
                #expect(error.message.contains("bucket 3"), "\(error)")
            }
        }
    }

    // MARK: Damage

    /// Every single flipped bit, in any word of any bucket, fails the checksum.
    @Test func everyBitFlipIsCorrupted() throws {
        var random = SeededGenerator.make("bucket bit flips")
        for id in Self.ids {
            let bytes = Self.randomBucket(&random).encoded(id: id)
            for bit in 0..<(bytes.count * 8) {
                var flipped = bytes
                flipped[bit / 8] ^= 1 << UInt8(bit % 8)
                guard case .failure(let error) = Self.decode(flipped, id: id, baseOffset: 4096) else {
                    Issue.record("\(id) with bit \(bit) flipped decoded")
                    continue
                }
                #expect(error.code == .corrupted && error.message.contains("at offset 4096:"), "\(error)")
                #expect(error.message.contains("checksum"), "\(error)")
            }
        }
    }

    /// A bucket read at another place than its own (a misdirected write, a stale copy of another
    /// bucket) fails the checksum: the id is part of it.
    @Test func aBucketUnderAnotherIDIsCorrupted() {
        var random = SeededGenerator.make("bucket ids")
        for id in Self.ids {
            let bytes = Self.randomBucket(&random).encoded(id: id)
            for other in Self.ids + [.main(id.number + 1), .overflow(id.number + 1)] where other != id {
                guard case .failure(let error) = Self.decode(bytes, id: other) else {
                    Issue.record("\(id) decoded as \(other)")
                    continue
                }
                #expect(error.code == .corrupted)
            }
        }
    }

    /// An all-zero bucket (a hole, a zeroed page) is no valid bucket, empty or not.
    @Test func anAllZeroBucketIsCorrupted() {
        for id in Self.ids {
            let result = Self.decode([UInt8](repeating: 0, count: Bucket.size), id: id)
            guard case .failure(let error) = result else {
                Issue.record("zeros decoded as \(id)")
                continue
            }
            #expect(error.code == .corrupted)
        }
    }

    // MARK: Crafted fields

    @Test func fieldsAreNotJudged() throws {
        // A hole before an occupied slot: decoded as it is; `occupied` counts up to the hole.
        var holes = Bucket()
        for (i, word): (Int, UInt64) in [(0, 5), (2, 7), (6, 9)] { holes.words[i] = word }
        holes.next = Bucket.maxOverflowNumber
        let unpacked = try Self.decode(holes.encoded(id: .main(3))).get()
        #expect(unpacked.occupied == 1)
        #expect(unpacked.slot(2) == 7 && unpacked.slot(6) == 9)
        #expect(unpacked.next == Bucket.maxOverflowNumber)
    }

    // MARK: Garbage

    @Test func randomGarbageNeverDecodes() {
        var random = SeededGenerator.make("bucket garbage")
        for round in 0..<3000 {
            let length = round < 200 ? round : Int.random(in: 0...300, using: &random)
            let bytes = random.bytes(length)
            let base = Int64.random(in: 0...(1 << 50), using: &random)
            var reader = ByteReader(bytes, file: Self.file, baseOffset: base)
            do throws(PogrebError) {
                _ = try Bucket.decode(&reader, id: .overflow(UInt64(round)))
                Issue.record("\(length) random bytes decoded as a bucket")
            } catch {
                #expect(error.code == .corrupted)
            }
        }
    }
}
