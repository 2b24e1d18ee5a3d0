import PogrebTestSupport
import Testing

@testable import Pogreb

/// The segment table holds segments by file number without sizing anything by a number read
/// from a file.
@Suite struct SegmentTableTests {
    static func segment(_ number: UInt32, in fs: MemoryFileSystem) throws -> Segment {
        let name = "segment-\(number).test"
        let file = try fs.open(name, .createNew)
        let segment = Segment(sequence: UInt64(number) + 1, fileNumber: number, fileName: name, name: name, size: 64)
        segment.publish(SegmentHandle(file: file, region: nil))
        return segment
    }

    /// A segment whose header names file number 2^28 - 1 (the largest a 1 MiB layout allows)
    /// costs one entry, not an array of 2^28 (4 GiB with its unretained mirror); every lookup,
    /// removal and listing still works, and numbers move into the array once it covers them.
    @Test func aHugeFileNumberDoesNotSizeTheTable() throws {
        let fs = MemoryFileSystem()
        let huge = LogLayout(offsetBits: 20).maxFileNumber
        #expect(huge == (1 << 28) - 1)
        var table = SegmentTable()
        table[huge] = try Self.segment(huge, in: fs)
        table[0] = try Self.segment(0, in: fs)
        table[70] = try Self.segment(70, in: fs)
        #expect(table.denseLength < 100, "\(table.denseLength)")
        #expect(table.count == 3)
        #expect(table[huge]?.fileNumber == huge)
        #expect(table[70]?.fileNumber == 70)
        #expect(table[huge - 1] == nil && table[69] == nil)
        let mappedCounts = unsafe withUnsafePointer(to: table) { table in
            unsafe (SegmentTable.mapped(huge, in: table).count, SegmentTable.mapped(12_345, in: table).count)
        }
        #expect(mappedCounts == (0, 0))
        #expect(table.keys == [0, 70, huge])
        #expect(table.values.map(\.fileNumber) == [0, 70, huge])
        // Filling the small numbers grows the array over 70, which moves there.
        for number in 1..<40 { table[UInt32(number)] = try Self.segment(UInt32(number), in: fs) }
        table[75] = try Self.segment(75, in: fs)
        #expect(table.denseLength == 76)
        #expect(table[70]?.fileNumber == 70 && table[75]?.fileNumber == 75)
        #expect(table.keys == Array(0..<40) + [70, 75, huge])
        #expect(table.count == 43)
        #expect(table.removeValue(forKey: huge)?.fileNumber == huge)
        #expect(table.removeValue(forKey: 70)?.fileNumber == 70)
        #expect(table[huge] == nil && table[70] == nil && table.count == 41)
        #expect(table.denseLength < 200)
    }
}
