public import Logging

/// How a ``Database`` is opened and how it behaves.
///
/// Every property has a documented default; `Options()` is what most programs want.
public struct Options: Sendable {
    /// When writes are forced to stable storage.
    public enum SyncPolicy: Sendable, Equatable {
        /// Only ``Database/sync()``, ``Database/close()`` and checkpoints call `fsync`; the OS
        /// writes the rest when it likes. A crash loses what was written since the last of those.
        case never
        /// A background timer syncs every `milliseconds`; it does nothing when nothing was written
        /// since the last sync.
        case interval(milliseconds: Int)
        /// Every write returns only once it is durable. Writers that wait at the same moment share
        /// one `fsync` (group commit).
        case everyWrite
    }

    /// How records are read from sealed segments.
    ///
    /// A mapped page that cannot be read (a media error, or a file truncated by another program)
    /// kills the process with `SIGBUS`; with ``pread`` such a segment read fails with an error
    /// instead. The index files are mapped in both modes, and so is every segment while an open
    /// replays the log (docs/DESIGN.md, section 13).
    public enum FileAccess: Sendable, Equatable {
        /// `pread` into a buffer for every read: the choice for unreliable media or a directory
        /// other software may touch.
        case pread
        /// Read-only shared mappings of the segments: sealed ones whole, the active one up to
        /// what was written to its file, mapped again in steps as it grows; the rest of the
        /// active segment is read from the write buffer or with `pread`.
        case mmap
    }

    /// Open without writing any file: a shared lock, no recovery writes, no checkpoints. Many
    /// processes may read at once. Default: `false`.
    public var readOnly: Bool = false
    /// Create the directory and an empty database when none exists. Default: `true`.
    public var createIfMissing: Bool = true
    /// Default: ``SyncPolicy/never``.
    public var syncPolicy: SyncPolicy = .never
    /// Default: ``FileAccess/mmap``.
    public var fileAccess: FileAccess = .mmap
    /// A segment is sealed and a new one started once it reaches this size, in bytes. Fixed
    /// upper bound at creation: later opens may lower it but not raise it past the created
    /// database's limit. Default: 1 GiB. Range: 1 MiB ... 1 TiB.
    public var segmentSize: Int = 1 << 30
    /// The most sealed segments kept open at once (a descriptor each, and a mapping in
    /// ``FileAccess/mmap`` mode). A sealed segment is opened on its first read and closed again,
    /// least recently read first (CLOCK), when more are open; the active segment is always open
    /// besides. A database therefore needs about this many descriptors plus a handful, whatever
    /// its number of segments. Default: 256; never more than half the process's descriptor limit
    /// (`ulimit -n`, read at open); a value below 1 counts as 1.
    public var maxOpenSegments: Int = 256
    /// Check each record's CRC32C when it is read by ``Database/get(_:)-([UInt8])`` and
    /// ``Database/withValue(forKey:_:)-([UInt8],_)``. Default: `true`.
    public var verifyChecksums: Bool = true
    /// Write a checkpoint once this many index buckets changed since the last (about 100 bytes
    /// each in memory: the 64-byte bucket and its dictionary entry). Bounds the memory the index
    /// holds between checkpoints. Default: 262 144 (about 26 MiB).
    public var checkpointDirtyBuckets: Int = 262_144
    /// Write a checkpoint once this many bytes of log were written since the last; recovery after
    /// a crash replays at most about this much. Default: 256 MiB.
    public var checkpointLogBytes: Int64 = 256 << 20
    /// ``Database/sync()`` also writes a checkpoint when at least this many bytes of log were
    /// written since the last one, so that reopening after a crash that follows a `sync()`
    /// replays at most this much. Writes made durable by ``SyncPolicy/everyWrite`` or the
    /// interval timer never checkpoint here. Default: 8 MiB.
    public var checkpointOnSyncLogBytes: Int64 = 8 << 20
    /// Write buffer size: records are appended to the active segment in writes of about this size.
    /// Default: 1 MiB.
    public var writeBufferSize: Int = 1 << 20
    /// Compaction rewrites segments with at least this fraction of their record bytes dead.
    /// Default: 0.5.
    public var compactionMinDeadFraction: Double = 0.5
    /// Compaction ignores segments whose dead bytes are fewer than this. Default: 1 MiB.
    public var compactionMinDeadBytes: Int64 = 1 << 20
    /// Run ``Database/compact()`` in the background this often, in milliseconds; `nil` for never.
    /// Default: `nil`.
    public var compactionIntervalMilliseconds: Int? = nil

    /// Where the database logs what it does: opens (records replayed, torn tails cut, index
    /// rebuilds), checkpoints, compactions and I/O failures. `nil`, the default, logs nothing.
    public var logger: Logger? = nil
    /// Report ``Statistics`` through swift-metrics this often, in milliseconds (see
    /// ``Database/reportMetrics()``); `nil`, the default, reports only when asked.
    public var metricsIntervalMilliseconds: Int? = nil

    /// The smallest ``segmentSize`` allowed: 1 MiB. Tests lower it to make databases of
    /// thousands of segments quickly.
    package var minimumSegmentSize: Int = 1 << 20

    /// Options with every property at its documented default.
    public init() {}
}

extension Options {
    /// Throws `invalidArgument` unless ``segmentSize`` lies in 1 MiB ... 1 TiB: the one check that
    /// `open` and `build` both make.
    func checkSegmentSize() throws(PogrebError) {
        guard segmentSize >= minimumSegmentSize, segmentSize <= 1 << 40 else {
            throw PogrebError(.invalidArgument, "segmentSize \(segmentSize) is outside 1 MiB ... 1 TiB")
        }
    }
}
