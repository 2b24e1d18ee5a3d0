/// One file of the log: a header, then records appended one after another.
///
/// Named `segment-<sequence, 16 hex digits>.pgl`. The sequence orders segments (replay goes in
/// sequence order) and is never reused; the file number is what index slots store and is reused
/// once a segment is deleted. A segment is *active* while the writer appends to it and *sealed*
/// after; a sealed segment never changes again until compaction deletes it, so it may be mapped.
@safe final class Segment: @unchecked Sendable {
    // @unchecked Sendable: `size`, `deadBytes`, `region` and `isSealed` change only under the
    // database's exclusive state lock, and are read under its shared lock.
    let sequence: UInt64
    let fileNumber: UInt32
    let file: any StorageFile
    let name: String
    /// The bytes that belong to the segment: header and whole records (for the active segment:
    /// including the writer's unflushed buffer).
    var size: Int64
    /// Bytes of records that are no longer the current version of their key.
    var deadBytes: Int64 = 0
    /// Set once the writer has moved to a newer segment.
    var isSealed: Bool = false
    /// The read-only mapping of the segment (sealed: whole; active: up to what was flushed).
    var region: MappedRegion? {
        didSet {
            unsafe mappedBase = region?.base
            mappedCount = region?.count ?? 0
        }
    }
    /// ``region``'s address and length, as plain values: the read path uses them without
    /// touching the region object's reference count.
    private(set) var mappedBase: UnsafeRawPointer?
    private(set) var mappedCount = 0

    init(sequence: UInt64, fileNumber: UInt32, file: any StorageFile, name: String, size: Int64) {
        self.sequence = sequence
        self.fileNumber = fileNumber
        self.file = file
        self.name = name
        self.size = size
    }

    /// Creates the file of a new segment with its header (`open(O_CREAT|O_EXCL)`, `pwrite`); the
    /// file and its directory entry become durable at the caller's next sync.
    static func create(
        sequence: UInt64, fileNumber: UInt32, databaseID: [UInt8], in fileSystem: any FileSystem
    ) throws(PogrebError) -> Segment {
        let name = DatabaseFiles.segment(sequence: sequence)
        let file = try fileSystem.open(name, .createNew)
        let segment = Segment(
            sequence: sequence, fileNumber: fileNumber, file: file, name: fileSystem.displayPath + "/" + name,
            size: Int64(FileHeader.size))
        try file.write(segment.header(databaseID: databaseID).encoded(), at: 0)
        return segment
    }

    func header(databaseID: [UInt8]) -> FileHeader {
        FileHeader(kind: .segment, databaseID: databaseID, a: sequence, b: UInt64(fileNumber), c: 0)
    }
}
