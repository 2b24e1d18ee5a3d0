import Synchronization

/// One file of the log: a header, then records appended one after another.
///
/// Named `segment-<sequence, 16 hex digits>.pgl`. The sequence orders segments (replay goes in
/// sequence order) and is never reused; the file number is what index slots store and is reused
/// once a segment is deleted. A segment is *active* while the writer appends to it and *sealed*
/// after; a sealed segment never changes again until compaction deletes it, so it may be mapped.
///
/// A segment is not always open: its file (and, in mmap mode, its mapping) is a ``SegmentHandle``
/// that the segment *publishes* while it is open. The active segment is always open; a sealed one
/// is opened on its first read and closed again when the ``SegmentCache`` evicts it.
@safe final class Segment: @unchecked Sendable {
    // @unchecked Sendable: `size`, `deadBytes` and `isSealed` change only under the database's
    // exclusive state lock, and are read under its shared lock; the published handle and the
    // reference bit are atomics.
    let sequence: UInt64
    let fileNumber: UInt32
    /// The file's name inside the database directory (what ``SegmentCache`` opens).
    let fileName: String
    /// The file's path, for messages.
    let name: String
    /// The bytes that belong to the segment: header and whole records (for the active segment:
    /// including the writer's unflushed buffer).
    var size: Int64
    /// Bytes of records that are no longer the current version of their key.
    var deadBytes: Int64 = 0
    /// Set once the writer has moved to a newer segment.
    var isSealed: Bool = false

    /// The published handle as `Unmanaged<SegmentHandle>.toOpaque()`, retained once by this
    /// segment, or nil while the segment is not open. Replaced only by ``publish(_:)``.
    private let published = unsafe Atomic<UnsafeMutableRawPointer?>(nil)
    /// The CLOCK reference bit of ``SegmentCache``: set by a read of the mapping, cleared by the
    /// cache's hand. The read path stores it only when it is clear, so a segment in steady use
    /// costs its readers no write to a shared cache line.
    let referenced = Atomic<Bool>(false)

    init(sequence: UInt64, fileNumber: UInt32, fileName: String, name: String, size: Int64) {
        self.sequence = sequence
        self.fileNumber = fileNumber
        self.fileName = fileName
        self.name = name
        self.size = size
    }

    deinit {
        if let raw = unsafe published.exchange(nil, ordering: .acquiringAndReleasing) {
            unsafe Unmanaged<SegmentHandle>.fromOpaque(raw).release()
        }
    }

    /// The published mapping's address and length, (nil, 0) when the segment is not open or not
    /// mapped. The read path's only access to a segment: one atomic load, no reference count
    /// (the caller holds the shared state lock, under which a published handle is never freed:
    /// see ``SegmentCache``), and a store of the reference bit only when it is clear.
    @inline(__always)
    var mapped: (base: UnsafeRawPointer?, count: Int) {
        guard let raw = unsafe published.load(ordering: .acquiring) else { return (nil, 0) }
        if !referenced.load(ordering: .relaxed) { referenced.store(true, ordering: .relaxed) }
        return unsafe Unmanaged<SegmentHandle>.fromOpaque(raw)._withUnsafeGuaranteedRef {
            unsafe ($0.base, $0.count)
        }
    }

    /// The published handle, or nil when the segment is not open. The reference returned keeps
    /// the file (and mapping) open for as long as the caller holds it, evicted or not. Call it
    /// holding the state lock (shared or exclusive), or the writer lock for the active segment:
    /// a handle is released only under the exclusive state lock, or by the writer (the active
    /// segment's), so it cannot be freed between this load and its retain.
    var handle: SegmentHandle? {
        guard let raw = unsafe published.load(ordering: .acquiring) else { return nil }
        return unsafe Unmanaged<SegmentHandle>.fromOpaque(raw).takeUnretainedValue()
    }

    /// The file of a segment that is open: the active segment, which is always open.
    var openFile: any StorageFile {
        guard let handle else { preconditionFailure("\(name) is not open") }
        return handle.file
    }

    /// Makes `handle` the segment's handle (nil: the segment is closed) and returns the one it
    /// replaces. A reader may still be using the returned handle: the caller releases it only
    /// where no reader can hold it (under the exclusive state lock, or before the database is
    /// shared), or hands it to ``SegmentCache`` to release later.
    @discardableResult
    func publish(_ handle: SegmentHandle?) -> SegmentHandle? {
        let new = unsafe handle.map { unsafe Unmanaged.passRetained($0).toOpaque() }
        guard let old = unsafe published.exchange(new, ordering: .acquiringAndReleasing) else { return nil }
        return unsafe Unmanaged<SegmentHandle>.fromOpaque(old).takeRetainedValue()
    }

    /// Creates the file of a new segment with its header (`open(O_CREAT|O_EXCL)`, `pwrite`) and
    /// publishes it open, unmapped; the file and its directory entry become durable at the
    /// caller's next sync.
    static func create(
        sequence: UInt64, fileNumber: UInt32, databaseID: [UInt8], in fileSystem: any FileSystem
    ) throws(PogrebError) -> Segment {
        let name = DatabaseFiles.segment(sequence: sequence)
        let file = try fileSystem.open(name, .createNew)
        let segment = Segment(
            sequence: sequence, fileNumber: fileNumber, fileName: name, name: fileSystem.displayPath + "/" + name,
            size: Int64(FileHeader.size))
        try file.write(segment.header(databaseID: databaseID).encoded(), at: 0)
        segment.publish(SegmentHandle(file: file, region: nil))
        return segment
    }

    func header(databaseID: [UInt8]) -> FileHeader {
        FileHeader(kind: .segment, databaseID: databaseID, a: sequence, b: UInt64(fileNumber), c: 0)
    }
}

/// An open segment file and, in mmap mode, its read-only mapping. Immutable: a segment whose
/// mapping grows (the active one) publishes a new handle sharing the file.
///
/// The descriptor is closed when the last reference to ``file`` goes away (the file's `deinit`),
/// or explicitly by ``Database/close()``; the mapping when the last reference to ``region`` does.
@safe final class SegmentHandle: @unchecked Sendable {
    // @unchecked Sendable: every property is immutable; `base` points into `region`, which this
    // handle keeps alive.
    let file: any StorageFile
    let region: MappedRegion?
    /// ``region``'s address and length as plain values, for the read path.
    let base: UnsafeRawPointer?
    let count: Int

    init(file: any StorageFile, region: MappedRegion?) {
        self.file = file
        self.region = region
        unsafe self.base = region?.base
        self.count = region?.count ?? 0
    }
}
