import Foundation
import PogrebTestSupport
import Synchronization
import Testing

@testable import Pogreb

#if canImport(Glibc)
import Glibc
#endif

/// `backup(to:)`: a consistent copy, index included, made while readers and a writer run, that
/// opens with nothing to replay.
@Suite struct BackupTests {
    /// Where a backup of a database of `kind` goes: a memory file system for the memory kind, a
    /// directory beside the database otherwise.
    static func destination(for kind: FileSystemKind, root: String) -> any FileSystem {
        kind.isMemory ? MemoryFileSystem(displayPath: "memory:/backup") : PosixFileSystem(directory: root + "/backup")
    }

    /// One writer puts W1 key i with value i in order, two readers read what was written, and a
    /// backup is taken in the middle. The backup must hold exactly keys `0..<k` for one `k`
    /// between the puts finished before it began and the puts begun before it ended.
    @Test(arguments: FileSystemKind.allCases)
    func aBackupUnderLoadHoldsOnePointInTimeAndOpensWithoutReplay(kind: FileSystemKind) throws {
        try withTemporaryDirectory { root in
            let (fileSystem, baseOptions) = kind.make(directory: root + "/db")
            var options = baseOptions
            options.segmentSize = 1 << 20  // several segments, one sealed while the backup copies
            options.writeBufferSize = 32 << 10
            let db = try Database.open(fileSystem: fileSystem, options: options)
            defer { try? db.close() }
            let total = 30_000
            let started = Atomic<Int>(0)
            let finished = Atomic<Int>(0)
            let backupBegan = Atomic<Bool>(false)
            let stop = StopFlag()
            let destination = Self.destination(for: kind, root: root)
            let window = Mutex<(low: Int, high: Int)>((0, 0))

            try onThreads(4) { thread in
                switch thread {
                case 0:  // the writer
                    defer { stop.stop() }
                    for i in 0..<total {
                        started.store(i + 1, ordering: .sequentiallyConsistent)
                        try db.put(workloadKey(i), workloadValue(i))
                        finished.store(i + 1, ordering: .sequentiallyConsistent)
                    }
                case 1:  // the backup, once a third is written
                    while finished.load(ordering: .sequentiallyConsistent) < total / 3 { sched_yield() }
                    let low = finished.load(ordering: .sequentiallyConsistent)
                    backupBegan.store(true, ordering: .sequentiallyConsistent)
                    try db.backup(to: destination)
                    let high = started.load(ordering: .sequentiallyConsistent)
                    window.withLock { $0 = (low, high) }
                default:  // readers
                    var generator = SystemRandomNumberGenerator()
                    while !stop.isStopped {
                        let written = finished.load(ordering: .sequentiallyConsistent)
                        guard written > 0 else { continue }
                        let i = Int.random(in: 0..<written, using: &generator)
                        let ok = try db.withValue(forKey: workloadKey(i)) {
                            $0.map { $0.elementsEqual(workloadValue(i)) }
                        }
                        #expect(ok == true, "key \(i) of \(written) written")
                    }
                }
            }
            let began = backupBegan.load(ordering: .relaxed)
            #expect(began)
            let (low, high) = window.withLock { $0 }
            #expect(low < high, "the writer ran while the backup was made")

            let copy = try Database.open(fileSystem: destination, options: baseOptions)
            defer { try? copy.close() }
            let statistics = try copy.statistics
            #expect(statistics.recordsReplayedAtOpen == 0)
            #expect(statistics.indexRebuiltAtOpen == nil)
            #expect(statistics.tornTails.isEmpty)
            let k = try copy.count
            #expect(k >= low && k <= high, "the backup holds \(k) keys; the point in time lies in \(low)...\(high)")
            var ids: [Int] = []
            try copy.forEachKey { key in ids.append(workloadID(ofKey: key) ?? -1) }
            #expect(ids.sorted() == Array(0..<k), "exactly keys 0..<\(k)")
            var wrong = 0
            for i in 0..<k where try copy.get(workloadKey(i)) != workloadValue(i) { wrong += 1 }
            #expect(wrong == 0)
            #expect(try copy.get(workloadKey(k)) == nil)
            #expect(try copy.verify().isClean)
            // The source is untouched by it and has everything.
            #expect(try db.count == total)
        }
    }

    /// Overwrites, deletes and a compaction before the backup: the backup equals the source.
    @Test(arguments: FileSystemKind.allCases)
    func aBackupEqualsTheSource(kind: FileSystemKind) throws {
        try withTemporaryDirectory { root in
            let (fileSystem, baseOptions) = kind.make(directory: root + "/db")
            var options = baseOptions
            options.segmentSize = 1 << 20
            options.compactionMinDeadBytes = 0
            let db = try Database.open(fileSystem: fileSystem, options: options)
            defer { try? db.close() }
            for i in 0..<10_000 { try db.put(workloadKey(i), workloadValue(i)) }
            for i in stride(from: 0, to: 10_000, by: 2) { try db.put(workloadKey(i), workloadValue(i, version: 1)) }
            for i in stride(from: 0, to: 10_000, by: 3) { try db.delete(workloadKey(i)) }
            _ = try db.compact()
            try db.put(bytes("after-compaction"), bytes("x"))
            var source: [[UInt8]: [UInt8]] = [:]
            try db.forEachItem { source[$0.key] = $0.value }

            let destination = Self.destination(for: kind, root: root)
            try db.backup(to: destination)
            let copy = try Database.open(fileSystem: destination, options: baseOptions)
            defer { try? copy.close() }
            #expect(try copy.statistics.recordsReplayedAtOpen == 0)
            var copied: [[UInt8]: [UInt8]] = [:]
            try copy.forEachItem { copied[$0.key] = $0.value }
            #expect(copied == source)
            try checkInvariants(copy)
        }
    }

    @Test func refusals() throws {
        try withTemporaryDirectory { root in
            let db = try Database.open(at: root + "/db")
            try db.put(bytes("k"), bytes("v"))
            // Into a directory that is not empty.
            try FileManager.default.createDirectory(atPath: root + "/full", withIntermediateDirectories: false)
            try Data("x".utf8).write(to: URL(fileURLWithPath: root + "/full/file"))
            expectPogrebError(.invalidArgument) { try db.backup(to: root + "/full") }
            // Into an empty directory is fine, and so is a new one.
            try FileManager.default.createDirectory(atPath: root + "/empty", withIntermediateDirectories: false)
            try db.backup(to: root + "/empty")
            try db.backup(to: root + "/new")
            // From a read-only open.
            try db.close()
            var readOnly = Options()
            readOnly.readOnly = true
            let reader = try Database.open(at: root + "/db", options: readOnly)
            defer { try? reader.close() }
            expectPogrebError(.readOnly) { try reader.backup(to: root + "/from-reader") }
            for copy in ["empty", "new"] {
                let opened = try Database.open(at: root + "/" + copy, options: readOnly)
                #expect(try opened.get(bytes("k")) == bytes("v"))
                try opened.close()
            }
        }
    }
}
