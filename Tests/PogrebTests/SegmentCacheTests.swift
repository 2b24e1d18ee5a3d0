import Foundation
import PogrebTestSupport
import Synchronization
import Testing

@testable import Pogreb

/// A file system that counts the files open through it at once (opened and not yet closed or
/// released), and the most there ever were.
final class CountingFileSystem: FileSystem, @unchecked Sendable {
    // @unchecked Sendable: the counters are atomics; `base` is immutable.
    let base: any FileSystem
    let open = Atomic<Int>(0)
    let peak = Atomic<Int>(0)

    init(wrapping base: any FileSystem) { self.base = base }

    var displayPath: String { base.displayPath }
    func prepareDirectory(create: Bool) throws(PogrebError) { try base.prepareDirectory(create: create) }
    func listFiles() throws(PogrebError) -> [String] { try base.listFiles() }
    func open(_ name: String, _ mode: FileOpenMode) throws(PogrebError) -> any StorageFile {
        let file = try base.open(name, mode)
        let now = open.add(1, ordering: .relaxed).newValue
        _ = peak.max(now, ordering: .relaxed)
        return CountedFile(base: file, owner: self)
    }
    func remove(_ name: String) throws(PogrebError) { try base.remove(name) }
    func rename(_ from: String, to: String) throws(PogrebError) { try base.rename(from, to: to) }
    func syncDirectory() throws(PogrebError) { try base.syncDirectory() }
    func lockDirectory(exclusive: Bool) throws(PogrebError) -> any DirectoryLock {
        try base.lockDirectory(exclusive: exclusive)
    }

    /// Starts a new peak from the files open now.
    func resetPeak() { peak.store(open.load(ordering: .relaxed), ordering: .relaxed) }

    final class CountedFile: StorageFile, @unchecked Sendable {
        let base: any StorageFile
        let owner: CountingFileSystem
        private let closed = Atomic<Bool>(false)

        init(base: any StorageFile, owner: CountingFileSystem) {
            self.base = base
            self.owner = owner
        }

        var name: String { base.name }
        func size() throws(PogrebError) -> Int64 { try base.size() }
        func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(PogrebError) -> Int {
            try unsafe base.read(into: buffer, at: offset)
        }
        func write(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws(PogrebError) {
            try unsafe base.write(bytes, at: offset)
        }
        func truncate(to size: Int64) throws(PogrebError) { try base.truncate(to: size) }
        func sync() throws(PogrebError) { try base.sync() }
        func map(length: Int, randomAccess: Bool) throws(PogrebError) -> MappedRegion {
            try base.map(length: length, randomAccess: randomAccess)
        }
        func dropCache() { base.dropCache() }
        func close() {
            if !closed.exchange(true, ordering: .relaxed) { owner.open.subtract(1, ordering: .relaxed) }
            base.close()
        }
        deinit { close() }
    }
}

/// Segments open lazily, through a bounded cache: a database of thousands of segments works
/// with a bounded number of open files, and a segment closed by the cache is never closed under
/// a reader.
@Suite struct SegmentCacheTests {
    static let segmentCount = 5_000
    static let valueSize = 1_700  // three records to a 4 KiB segment (the third passes 4 KiB)

    static func key(_ i: Int) -> [UInt8] { bytes("key-\(i)") }
    static func value(_ i: Int, version: Int) -> [UInt8] {
        bytes("\(i)/\(version):") + [UInt8](repeating: UInt8(truncatingIfNeeded: i &+ version), count: valueSize)
    }

    /// Options for a database of many 4 KiB segments with a cache of `maxOpen` segments.
    static func tiny(_ options: inout Options, maxOpen: Int) {
        options.minimumSegmentSize = 4096
        options.segmentSize = 4096
        options.maxOpenSegments = maxOpen
        options.compactionMinDeadBytes = 1
    }

    /// A database of `segmentCount` segments: opened, every key read, keys rewritten, compacted,
    /// verified and walked, while no more than the cache's bound plus a few files (index,
    /// overflow, journal, active segment, one scan's segment) are open at any moment. Every
    /// segment was open at once before the cache (the database could not be opened past about
    /// 1 000 segments under a 1 024-descriptor limit).
    @Test(arguments: [FileSystemKind.posixPread, .posixMmap])
    func fiveThousandSegmentsWorkWithABoundedNumberOfOpenFiles(kind: FileSystemKind) throws {
        let maxOpen = 16
        // The cache, the evicted handles waiting for an exclusive moment (a quarter of the
        // cache), and index, overflow, journal, active and new segment, a scan's segment.
        let bound = maxOpen + maxOpen / 4 + 8
        try kind.withFreshDatabase { base, defaults in
            let files = CountingFileSystem(wrapping: base)
            var options = defaults
            Self.tiny(&options, maxOpen: maxOpen)
            let count = Self.segmentCount * 3
            do {
                let db = try Database.open(fileSystem: files, options: options)
                for i in 0..<count { try db.put(Self.key(i), Self.value(i, version: 0)) }
                try db.close()
            }
            let segments = try base.listFiles().filter { DatabaseFiles.segmentSequence(of: $0) != nil }.count
            #expect(segments >= Self.segmentCount, "\(segments) segments")
            #expect(files.peak.load(ordering: .relaxed) <= bound, "writing: \(files.peak.load(ordering: .relaxed))")

            files.resetPeak()
            let db = try Database.open(fileSystem: files, options: options)
            for i in 0..<count {
                guard try db.get(Self.key(i)) == Self.value(i, version: 0) else {
                    Issue.record("key \(i) read wrong")
                    break
                }
            }
            #expect(files.peak.load(ordering: .relaxed) <= bound, "reading: \(files.peak.load(ordering: .relaxed))")
            // Rewrite two keys of three: most segments become two-thirds dead.
            for i in 0..<count where i % 3 != 0 { try db.put(Self.key(i), Self.value(i, version: 1)) }
            let result = try db.compact()
            #expect(result.segmentsCompacted >= Self.segmentCount / 2, "\(result)")
            let report = try db.verify()
            #expect(report.problems.isEmpty, "\(report.problems.prefix(3))")
            var walked = 0
            try db.forEachKey { _ in walked += 1 }
            #expect(walked == count)
            for i in stride(from: 0, to: count, by: 7) {
                #expect(try db.get(Self.key(i)) == Self.value(i, version: i % 3 == 0 ? 0 : 1), "key \(i)")
            }
            #expect(
                files.peak.load(ordering: .relaxed) <= bound,
                "writing, compacting, verifying: \(files.peak.load(ordering: .relaxed))")
            let (open, evicted) = db.segmentCache.counts
            #expect(open <= maxOpen && evicted <= 1, "\(open) open, \(evicted) evicted")
            try db.close()
            #expect(files.open.load(ordering: .relaxed) == 0, "files left open after close")
        }
    }

    /// A segment that disappears, or is replaced by another database's, after the open and before
    /// its first read: the read throws a typed error naming the file.
    @Test(arguments: FileSystemKind.allCases)
    func aSegmentMissingOrForeignAtItsFirstReadIsATypedErrorNamingTheFile(kind: FileSystemKind) throws {
        var foreignSegment: [UInt8] = []
        try withTestDatabase(kind) { other in
            let db = try other.open()
            try db.put(bytes("x"), bytes("y"))
            try db.close()
            foreignSegment = try #require(try other.contents(of: try other.segmentNames()[0]))
        }
        try withTestDatabase(kind, configure: { Self.tiny(&$0, maxOpen: 4) }) { t in
            let db = try t.open()
            for i in 0..<30 { try db.put(Self.key(i), Self.value(i, version: 0)) }
            try db.close()
            let names = try t.segmentNames()
            #expect(names.count >= 10)
            let reopened = try t.open()
            // Key 0 lives in the first segment, key 6 in the third; neither is open yet.
            try t.removeFile(names[0])
            try t.setContents(of: names[2], to: foreignSegment)
            #expect {
                _ = try reopened.get(Self.key(0))
            } throws: { error in
                let error = error as? PogrebError
                return error?.code == .corrupted && error?.message.contains(names[0]) == true
                    && error?.message.contains("missing") == true
            }
            #expect {
                _ = try reopened.get(Self.key(6))
            } throws: { error in
                let error = error as? PogrebError
                return error?.code == .notADatabase && error?.message.contains(names[2]) == true
            }
            #expect(try reopened.get(Self.key(29)) == Self.value(29, version: 0))
            try reopened.close()
        }
    }
}

/// Readers on many segments while the cache opens and evicts them (and a writer drains the
/// evicted ones): every value read is whole and right. Runs under `scripts/tsan.sh`.
@Suite struct SegmentCacheConcurrencyTests {
    @Test(arguments: [FileSystemKind.posixPread, .posixMmap, .memory])
    func readersOnManySegmentsWhileTheCacheEvicts(kind: FileSystemKind) throws {
        try withTestDatabase(kind, configure: { SegmentCacheTests.tiny(&$0, maxOpen: 3) }) { t in
            let count = 600  // 200 segments
            let db = try t.open()
            for i in 0..<count { try db.put(SegmentCacheTests.key(i), SegmentCacheTests.value(i, version: 0)) }
            let problems = Atomic<Int>(0)
            let reads = Atomic<Int>(0)
            let stop = Atomic<Bool>(false)
            let seed = SeededGenerator.make("readers on many segments, \(kind)").seed
            let group = DispatchGroup()
            for reader in 0..<4 {
                DispatchQueue.global().async(group: group) {
                    var random = SeededGenerator(seed: seed &+ UInt64(reader))
                    while !stop.load(ordering: .relaxed) {
                        let i = Int(random.next() % UInt64(count))
                        do {
                            let ok = try db.withValue(forKey: SegmentCacheTests.key(i)) { value in
                                value.map { Array($0) == SegmentCacheTests.value(i, version: 0) } ?? false
                            }
                            if !ok { problems.add(1, ordering: .relaxed) }
                        } catch {
                            problems.add(1, ordering: .relaxed)
                        }
                        reads.add(1, ordering: .relaxed)
                    }
                }
            }
            // A writer appends other keys meanwhile (its flushes close evicted segments too).
            for i in 0..<300 { try db.put(bytes("other-\(i)"), bytes("\(i)")) }
            // Enough reads to cycle the cache many times over (or a generous time on a busy machine).
            let deadline = Deadline(seconds: 30)
            while !deadline.hasPassed && reads.load(ordering: .relaxed) < 5_000 { usleep(10_000) }
            stop.store(true, ordering: .relaxed)
            group.wait()
            #expect(problems.load(ordering: .relaxed) == 0)
            #expect(reads.load(ordering: .relaxed) >= 1_000)
            try db.close()
        }
    }
}
