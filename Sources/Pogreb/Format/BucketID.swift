/// One bucket of the hash index: a main bucket, in `index.pgi`, or an overflow bucket, in
/// `overflow.pgo`, with its number in that file.
///
/// The raw value is the journal's encoding (docs/FORMAT.md): the number, with bit 63 set for an
/// overflow bucket. Bucket numbers and these ids were both bare `UInt64`s once, and a report
/// named the wrong file; a distinct type keeps them apart.
package struct BucketID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The number, with ``overflowFlag`` set for an overflow bucket.
    package let rawValue: UInt64

    /// The bit that marks an overflow bucket in the raw value.
    static let overflowFlag: UInt64 = 1 << 63

    @inline(__always) package init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Main bucket `number` of `index.pgi`.
    @inline(__always) package static func main(_ number: UInt64) -> BucketID {
        BucketID(rawValue: number & ~overflowFlag)
    }

    /// Overflow bucket `number` of `overflow.pgo` (numbered from 1; 0 means "no bucket").
    @inline(__always) package static func overflow(_ number: UInt64) -> BucketID {
        BucketID(rawValue: number | overflowFlag)
    }

    /// Whether the bucket lives in the overflow file.
    @inline(__always) package var isOverflow: Bool { rawValue & BucketID.overflowFlag != 0 }

    /// The bucket's number in its file.
    @inline(__always) package var number: UInt64 { rawValue & ~BucketID.overflowFlag }

    /// The byte offset of the bucket in its file: both index files keep a header page first.
    var fileOffset: Int64 { BucketID.fileOffset(ofNumber: number) }

    /// The size in bytes of the header page that starts both index files.
    package static let headerPageSize: Int64 = 4096

    /// The byte offset of bucket `number` in either index file.
    package static func fileOffset(ofNumber number: UInt64) -> Int64 {
        headerPageSize + Int64(number) * Int64(Bucket.size)
    }

    package static func < (lhs: BucketID, rhs: BucketID) -> Bool { lhs.rawValue < rhs.rawValue }

    package func hash(into hasher: inout Hasher) { hasher.combine(rawValue) }

    /// The dictionary of changed buckets is keyed by `BucketID` and looked up on every write:
    /// hash the raw value in one shot, as a bare `UInt64` key does, instead of through a
    /// `Hasher` (measured with callgrind on a W1 load of 100 000 keys: the synthesized
    /// `hash(into:)` cost 51 M more instructions, 3 % of the load).
    package func _rawHashValue(seed: Int) -> Int { rawValue._rawHashValue(seed: seed) }

    package var description: String { isOverflow ? "overflow bucket \(number)" : "bucket \(number)" }
}
