import PogrebTestSupport
import Testing

@testable import Pogreb

/// `Bucket.decode` against hostile bytes.
///
/// What it promises: it reads eight little-endian words through a ``ByteReader``, which throws
/// `corrupted` naming the file and the absolute offset when the bytes run out. A bucket has no
/// checksum of its own (the checkpoint's bucket section and the index files' users check what
/// they read), and the decoder judges no field: reserved bits and unpacked slots come back as
/// they are, for the verifier (`reservedBitsAreZero`, `occupied`) to judge.
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

    static func decode(_ bytes: [UInt8], baseOffset: Int64 = 0) -> Result<Bucket, PogrebError> {
        var reader = ByteReader(bytes, file: file, baseOffset: baseOffset)
        return Result { () throws(PogrebError) in try Bucket.decode(&reader) }
    }

    // MARK: Round trips

    @Test func roundTrip() throws {
        var random = SeededGenerator.make("bucket round trip")
        var full = Bucket()
        for i in 0..<Bucket.slotCount { full.setSlot(i, Bucket.makeSlot(tag: .max, address: Bucket.addressMask)) }
        full.next = Bucket.addressMask
        var samples = [Bucket(), full]
        for _ in 0..<200 { samples.append(Self.randomBucket(&random)) }
        for bucket in samples {
            let bytes = bucket.encoded()
            #expect(bytes.count == Bucket.size)
            var writer = ByteWriter()
            bucket.append(to: &writer)
            #expect(writer.bytes == bytes)
            #expect(try Self.decode(bytes).get() == bucket)
        }
    }

    @Test func consecutiveBucketsAdvanceTheReader() throws {
        var random = SeededGenerator.make("bucket sequence")
        let buckets = (0..<5).map { _ in Self.randomBucket(&random) }
        var reader = ByteReader(buckets.flatMap { $0.encoded() }, file: Self.file, baseOffset: 4096)
        for (i, bucket) in buckets.enumerated() {
            #expect(reader.offset == 4096 + Int64(i * Bucket.size))
            #expect(try Bucket.decode(&reader) == bucket)
        }
        #expect(reader.remaining == 0)
        // One more is past the end, at the right offset.
        #expect(throws: PogrebError.self) { try Bucket.decode(&reader) }
    }

    // MARK: Truncation

    @Test func everyTruncationIsCorrupted() {
        var random = SeededGenerator.make("bucket truncation")
        let bytes = Self.randomBucket(&random).encoded()
        for base in [0, 4096, 1 << 40] as [Int64] {
            for length in 0..<bytes.count {
                guard case .failure(let error) = Self.decode(Array(bytes[0..<length]), baseOffset: base) else {
                    Issue.record("a bucket of \(length) bytes decoded")
                    continue
                }
                // The word that ran out is the one named, at its absolute offset.
                let word = length / 8
                #expect(error.code == .corrupted)
                #expect(error.message.contains(Self.file))
                #expect(error.message.contains("at offset \(base + Int64(word * 8)):"), "\(error)")
                #expect(error.message.contains("bucket word \(word)"), "\(error)")
            }
        }
    }

    // MARK: Bit flips

    /// No checksum to catch a flip here (the checkpoint's and the verifier's job): the decoder
    /// hands back exactly the bits it was given, so a flip changes exactly that bit.
    @Test func everyBitFlipChangesExactlyThatBit() throws {
        var random = SeededGenerator.make("bucket bit flips")
        let bucket = Self.randomBucket(&random)
        let bytes = bucket.encoded()
        for bit in 0..<(bytes.count * 8) {
            var flipped = bytes
            flipped[bit / 8] ^= 1 << UInt8(bit % 8)
            let decoded = try Self.decode(flipped).get()
            for word in 0..<8 {
                let expected = word == bit / 64 ? bucket.words[word] ^ (1 << UInt64(bit % 64)) : bucket.words[word]
                #expect(decoded.words[word] == expected, "bit \(bit), word \(word)")
            }
        }
    }

    // MARK: Crafted fields

    @Test func fieldsAreNotJudged() throws {
        // Reserved bits set: decoded as they are, and visible to the verifier's check.
        var writer = ByteWriter()
        for _ in 0..<7 { writer.append(UInt64(0)) }
        writer.append(UInt64.max)
        let reserved = try Self.decode(writer.bytes).get()
        #expect(!reserved.reservedBitsAreZero)
        #expect(reserved.next == Bucket.addressMask)
        #expect(reserved.occupied == 0)
        // A hole before an occupied slot: `occupied` counts up to the hole.
        var holes = ByteWriter()
        for word: UInt64 in [5, 0, 7, 0, 0, 0, 9, 0] { holes.append(word) }
        let unpacked = try Self.decode(holes.bytes).get()
        #expect(unpacked.occupied == 1)
        #expect(unpacked.slot(2) == 7 && unpacked.slot(6) == 9)
    }

    // MARK: Garbage

    @Test func randomGarbageNeverTraps() {
        var random = SeededGenerator.make("bucket garbage")
        for round in 0..<3000 {
            let length = round < 200 ? round : Int.random(in: 0...300, using: &random)
            let bytes = random.bytes(length)
            let base = Int64.random(in: 0...(1 << 50), using: &random)
            var reader = ByteReader(bytes, file: Self.file, baseOffset: base)
            var decoded = 0
            while true {
                do throws(PogrebError) {
                    _ = try Bucket.decode(&reader)
                    decoded += 1
                } catch {
                    #expect(error.code == .corrupted)
                    break
                }
            }
            #expect(decoded == length / Bucket.size)
        }
    }
}
