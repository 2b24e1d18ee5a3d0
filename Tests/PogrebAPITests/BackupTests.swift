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

    /// The names in `directory`, sorted.
    static func names(in directory: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
    }

    /// A backup is published only once complete: a failure at any changing step of the copy
    /// (each write, sync, creation, rename of the staging directory, injected in turn) leaves no
    /// directory at the destination — or, when replacing, the earlier backup there, whole — and
    /// no staging directory beside it.
    @Test(arguments: FileSystemKind.allCases)
    func aFailedBackupLeavesNoDestinationOrTheEarlierOne(kind: FileSystemKind) throws {
        try withTemporaryDirectory { root in
            let (fileSystem, options) = kind.make(directory: root + "/db")
            let db = try Database.open(fileSystem: fileSystem, options: options)
            defer { try? db.close() }
            for i in 0..<500 { try db.put(workloadKey(i), workloadValue(i)) }
            let earlier = root + "/earlier"
            try db.backup(to: earlier)
            for i in 500..<800 { try db.put(workloadKey(i), workloadValue(i)) }
            for replacing in [false, true] {
                let rootNames = try Self.names(in: root)
                let destination = replacing ? earlier : root + "/new"
                var step = 1
                while true {
                    var injected: FaultInjectingFileSystem?
                    let report: BackupReport
                    do {
                        report = try db.backup(to: destination, replacing: replacing) { staging in
                            let faulty = FaultInjectingFileSystem(wrapping: staging)
                            faulty.failNthStep(step)
                            injected = faulty
                            return faulty
                        }
                    } catch let error as PogrebError {
                        #expect(injected?.hasFailed == true, "step \(step): \(error)")
                        let left = try Self.names(in: root)
                        #expect(left == rootNames, "step \(step): nothing left beside: \(left), after \(error)")
                        if replacing {
                            try BuildTests.expectContents(at: earlier, count: 500, version: 0)
                        }
                        step += 1
                        #expect(step < 500, "the backup never completed")
                        if step >= 500 { break }
                        continue
                    }
                    #expect(report.replacedExisting == replacing)
                    #expect(report.oldDatabaseLeftAt == nil)
                    try BuildTests.expectContents(at: destination, count: 800, version: 0)
                    #expect(step > 5, "faults were injected into \(step - 1) steps")
                    break
                }
            }
            #expect(try Self.names(in: root).filter { $0.contains(".backup-") }.isEmpty)
        }
    }

    /// The database's own directory, a directory inside it (through a symbolic link too) are
    /// refused before anything is written: a copy there would make the source unopenable.
    @Test func aDestinationInsideTheSourceIsRefused() throws {
        try withTemporaryDirectory { root in
            let db = try Database.open(at: root + "/db")
            defer { try? db.close() }
            try db.put(bytes("k"), bytes("v"))
            try FileManager.default.createSymbolicLink(atPath: root + "/link", withDestinationPath: "db")
            let before = try Self.names(in: root + "/db")
            for destination in [root + "/db", root + "/db/", root + "/db/inner", root + "/link/inner", root + "/link"] {
                expectPogrebError(.invalidArgument) { try db.backup(to: destination) }
                expectPogrebError(.invalidArgument) { try db.backup(to: destination, replacing: true) }
            }
            #expect(try Self.names(in: root + "/db") == before)
            #expect(try Self.names(in: root) == ["db", "link"])
            try db.close()
            let reopened = try Database.open(at: root + "/db")
            #expect(try reopened.get(bytes("k")) == bytes("v"))
            try reopened.close()
        }
    }

    /// An earlier backup is replaced only when asked, and only a database of ours: anything else
    /// at the destination is refused, replacing or not, and left as it was; dot-entries of a
    /// replaced backup are kept.
    @Test func replacingAnEarlierBackupOnlyWhenAskedAndOnlyADatabase() throws {
        try withTemporaryDirectory { root in
            let db = try Database.open(at: root + "/db")
            defer { try? db.close() }
            for i in 0..<100 { try db.put(workloadKey(i), workloadValue(i)) }
            let destination = root + "/backup"
            try db.backup(to: destination)
            try Data("notes".utf8).write(to: URL(fileURLWithPath: destination + "/.notes"))
            for i in 100..<150 { try db.put(workloadKey(i), workloadValue(i)) }
            expectPogrebError(.invalidArgument) { try db.backup(to: destination) }
            try BuildTests.expectContents(at: destination, count: 100, version: 0)
            let report = try db.backup(to: destination, replacing: true)
            #expect(report.replacedExisting)
            #expect(report.oldDatabaseLeftAt == nil)
            try BuildTests.expectContents(at: destination, count: 150, version: 0)
            #expect(try Data(contentsOf: URL(fileURLWithPath: destination + "/.notes")) == Data("notes".utf8))
            #expect(try Self.names(in: root) == ["backup", "db"])

            try FileManager.default.createDirectory(atPath: root + "/papers", withIntermediateDirectories: false)
            try Data("mine".utf8).write(to: URL(fileURLWithPath: root + "/papers/index.pgi"))
            expectPogrebError(.notADatabase) { try db.backup(to: root + "/papers", replacing: true) }
            expectPogrebError(.invalidArgument) { try db.backup(to: root + "/papers") }
            #expect(try Self.names(in: root + "/papers") == ["index.pgi"])
            #expect(try Self.names(in: root) == ["backup", "db", "papers"])
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
