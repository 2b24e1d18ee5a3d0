import Foundation
import Glibc
import PogrebTestSupport
import Testing

@testable import Pogreb

/// Which names of a directory are ours, and how the files under them are reached.
@Suite struct DatabaseFilesTests {
    @Test func onlyTheExactSpellingOfASegmentNameIsOurs() {
        #expect(DatabaseFiles.segmentSequence(of: "segment-000000000000002a.pgl") == 42)
        #expect(DatabaseFiles.segmentSequence(of: "segment-ffffffffffffffff.pgl") == UInt64.max)
        #expect(DatabaseFiles.segmentSequence(of: DatabaseFiles.segment(sequence: 1 << 40)) == 1 << 40)
        for name in [
            "segment-+000000000000009.pgl", "segment-000000000000002A.pgl", "segment--00000000000009.pgl",
            "segment-00000000000002a.pgl", "segment-0000000000000002a.pgl", "segment- 00000000000002a.pgl",
            "segment-0x0000000000002a.pgl", "segment-00000000000000٣a.pgl",
        ] {
            #expect(DatabaseFiles.segmentSequence(of: name) == nil, "\(name)")
            #expect(!DatabaseFiles.isOurs(name), "\(name)")
        }
    }

    @Test(arguments: FileSystemKind.allCases)
    func aMisspelledSegmentNameIsForeignAndNeverDeleted(kind: FileSystemKind) throws {
        try withTestDatabase(kind) { t in
            let db = try t.open()
            for i in 0..<20 { try db.put(key(i), value(i)) }
            try db.close()
            let files = try t.snapshot()
            // Names that parse as a hexadecimal number but are not the spelling we write; short
            // enough to look like an interrupted rotation if they were taken for ours.
            for name in ["segment-+000000000000009.pgl", "segment-00000000000000FF.pgl"] {
                var withForeign = files
                withForeign[name] = bytes("notes")
                for readOnly in [true, false] {
                    try t.restore(withForeign)
                    let error = pogrebError { _ = try t.open { $0.readOnly = readOnly } }
                    #expect(error?.code == .notADatabase, "\(name): \(error.map { "\($0)" } ?? "opened")")
                    #expect(try t.contents(of: name) == bytes("notes"), "\(name) is left alone")
                }
            }
        }
    }

    @Test(arguments: [FileSystemKind.posixPread, .posixMmap])
    func noFileIsWrittenThroughASymbolicLink(kind: FileSystemKind) throws {
        try withTestDatabase(kind) { t in
            guard let directory = t.directory else { return }
            let db = try t.open()
            for i in 0..<20 { try db.put(key(i), value(i)) }
            try db.close()
            // The user moves a file elsewhere and leaves a link: a writer must not write there.
            for name in [DatabaseFiles.index, DatabaseFiles.overflow, try t.segmentNames()[0]] {
                let outside = directory + "-" + name
                try FileManager.default.moveItem(atPath: directory + "/" + name, toPath: outside)
                try FileManager.default.createSymbolicLink(atPath: directory + "/" + name, withDestinationPath: outside)
                let before = try Data(contentsOf: URL(fileURLWithPath: outside))
                let error = pogrebError {
                    let db = try t.open()
                    try db.put(key(99), value(99))
                    try db.close()
                }
                #expect(error?.code == .notADatabase, "\(name): \(error.map { "\($0)" } ?? "opened and wrote")")
                #expect(error?.message.contains("symbolic link") == true)
                #expect(
                    try Data(contentsOf: URL(fileURLWithPath: outside)) == before, "\(name): the target is unchanged")
                // A read-only open may read through it.
                let reader = try t.open { $0.readOnly = true }
                #expect(try reader.get(key(3)) == value(3))
                try reader.close()
                try FileManager.default.removeItem(atPath: directory + "/" + name)
                try FileManager.default.moveItem(atPath: outside, toPath: directory + "/" + name)
            }
        }
    }

    // MARK: Damage to a file of ours, under our name

    /// A database with 20 keys closed twice, so both checkpoint slots hold a checkpoint; returns
    /// the names of the newest slot and of the stale one.
    private func databaseWithBothSlots(_ t: TestDatabase) throws -> (newest: String, stale: String) {
        for round in 0..<2 {
            let db = try t.open()
            for i in 0..<20 { try db.put(key(i), value(i, version: round)) }
            try db.close()
        }
        let (checkpoint, _) = try Database.newestCheckpoint(fileSystem: t.fileSystem)
        return (
            DatabaseFiles.checkpoint(sequence: checkpoint.sequence),
            DatabaseFiles.checkpoint(sequence: checkpoint.sequence + 1)
        )
    }

    @Test(arguments: FileSystemKind.allCases)
    func aFlippedMagicInTheStaleCheckpointSlotIsRoutedAround(kind: FileSystemKind) throws {
        try withTestDatabase(kind) { t in
            let (_, stale) = try databaseWithBothSlots(t)
            try t.modify(stale) { $0[0] ^= 0x01 }
            let reader = try t.open { $0.readOnly = true }
            #expect(try reader.get(key(7)) == value(7, version: 1))
            try reader.close()
            // The writer's next checkpoint overwrites the stale slot.
            let writer = try t.open()
            try writer.put(key(100), value(100))
            try writer.close()
            let again = try t.open { $0.readOnly = true }
            #expect(try again.get(key(100)) == value(100))
            #expect(try again.verify().isClean)
            try again.close()
            #expect(try t.contents(of: stale)?.prefix(5) == ArraySlice(bytes("PGRB-")), "the slot was rewritten")
        }
    }

    @Test(arguments: FileSystemKind.allCases)
    func damageToTheNewestCheckpointNamesItsFileAndIsRebuilt(kind: FileSystemKind) throws {
        try withTestDatabase(kind) { t in
            let (newest, _) = try databaseWithBothSlots(t)
            for flip in [0, 40] {  // the magic; a field of the checkpoint
                let files = try t.snapshot()
                try t.modify(newest) { $0[flip] ^= 0x01 }
                let error = pogrebError { _ = try t.open { $0.readOnly = true } }
                #expect(error?.code == .corrupted, "byte \(flip): \(error.map { "\($0)" } ?? "opened")")
                #expect(error?.message.contains(newest) == true, "byte \(flip): \(error.map { "\($0)" } ?? "")")
                let writer = try t.open()
                #expect(try writer.statistics.indexRebuiltAtOpen != nil, "byte \(flip)")
                #expect(try writer.get(key(7)) == value(7, version: 1))
                try writer.close()
                try t.restore(files)
            }
        }
    }

    @Test(arguments: [FileSystemKind.posixPread, .posixMmap])
    func aDirectoryOrDeviceInPlaceOfACheckpointSlotIsReportedNeverWrittenThrough(kind: FileSystemKind) throws {
        try withTestDatabase(kind) { t in
            guard let directory = t.directory else { return }
            let (_, stale) = try databaseWithBothSlots(t)
            let files = try t.snapshot()
            let path = directory + "/" + stale
            let replacements: [(String, () throws -> Void)] = [
                (
                    "a directory",
                    { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false) }
                ),
                ("a FIFO", { #expect(mkfifo(path, 0o644) == 0) }),
                (
                    "a link to /dev/zero",
                    { try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: "/dev/zero") }
                ),
            ]
            for (what, replace) in replacements {
                try t.removeFile(stale)
                try replace()
                // A reader routes around the unused slot, and check reports it.
                let reader = try t.open { $0.readOnly = true }
                #expect(try reader.get(key(7)) == value(7, version: 1), "\(what)")
                let report = try reader.verify()
                #expect(report.problems.contains { $0.file.hasSuffix(stale) }, "\(what): \(report.problems)")
                try reader.close()
                // A writer, whose next checkpoint would fail there, refuses at open; so does repair.
                let error = pogrebError { _ = try t.open() }
                #expect(error?.code == .corrupted, "\(what): \(error.map { "\($0)" } ?? "opened")")
                #expect(error?.message.contains(stale) == true && error?.message.contains("not a regular file") == true)
                let repairError = pogrebError { _ = try Database.repair(at: directory) }
                #expect(repairError?.message.contains("not a regular file") == true, "\(what)")
                #expect(FileManager.default.fileExists(atPath: path), "\(what) is left in place")
                try FileManager.default.removeItem(atPath: path)
                try t.restore(files)
            }
        }
    }

    @Test(arguments: [FileSystemKind.posixPread, .posixMmap])
    func aDirectoryNamedLikeTheOldLockFileIsHarmless(kind: FileSystemKind) throws {
        try withTestDatabase(kind) { t in
            guard let directory = t.directory else { return }
            _ = try databaseWithBothSlots(t)
            try FileManager.default.createDirectory(
                atPath: directory + "/" + DatabaseFiles.lock, withIntermediateDirectories: false)
            let writer = try t.open()
            try writer.put(key(100), value(100))
            try writer.close()
            let reader = try t.open { $0.readOnly = true }
            #expect(try reader.get(key(100)) == value(100))
            #expect(try reader.verify().isClean)
            try reader.close()
        }
    }

    // MARK: Messages that name the right file and give advice that works

    @Test(arguments: FileSystemKind.allCases)
    func aMissingIndexFileSaysRepairRebuildsIt(kind: FileSystemKind) throws {
        try withTestDatabase(kind) { t in
            _ = try databaseWithBothSlots(t)
            for name in [DatabaseFiles.index, DatabaseFiles.overflow] {
                let files = try t.snapshot()
                try t.removeFile(name)
                let error = pogrebError { _ = try t.open { $0.readOnly = true } }
                #expect(error?.code == .corrupted, "\(name): \(error.map { "\($0)" } ?? "opened")")
                #expect(error?.message.contains(name) == true && error?.message.contains("pogreb repair") == true)
                let writer = try t.open()
                #expect(try writer.statistics.indexRebuiltAtOpen != nil, "\(name): a writable open rebuilds it")
                #expect(try writer.get(key(7)) == value(7, version: 1))
                try writer.close()
                try t.restore(files)
            }
        }
    }

    @Test func aSlotPointingPastTheEndOfASegmentBlamesTheIndexAndAdvisesRepair() throws {
        let fs = MemoryFileSystem()
        let db = try Database.open(fileSystem: fs)
        for i in 0..<50 { try db.put(key(i), value(i)) }
        try db.close()
        // Every occupied main slot now points near the end of its segment's address range.
        var index = try #require(fs.contents(of: DatabaseFiles.index))
        let offsetMask: UInt64 = (1 << 30) - 1
        for at in stride(from: 4096, to: index.count, by: 8) {
            var word = (0..<8).reduce(UInt64(0)) { $0 | UInt64(index[at + $1]) << (8 * UInt64($1)) }
            guard word & Bucket.addressMask != 0, (at - 4096) % 64 != 56 else { continue }
            word = (word & ~offsetMask) | (offsetMask - 63)
            for b in 0..<8 { index[at + b] = UInt8(truncatingIfNeeded: word >> (8 * UInt64(b))) }
        }
        fs.setContents(of: DatabaseFiles.index, to: index)
        let reopened = try Database.open(fileSystem: fs)
        defer { try? reopened.close() }
        var messages: [String] = []
        for i in 0..<50 {
            do throws(PogrebError) { _ = try reopened.get(key(i)) } catch { messages.append(error.message) }
        }
        #expect(!messages.isEmpty, "no lookup met the damage")
        // Writes meeting the damage report damage, never an earlier I/O failure (none happened).
        var codes: [PogrebError.Code] = []
        for i in 0..<50 {
            do throws(PogrebError) { try reopened.put(key(i), value(i, version: 1)) } catch { codes.append(error.code) }
        }
        #expect(codes.contains(.corrupted) && !codes.contains(.previousIOFailure), "\(codes)")
        for message in messages {
            #expect(!message.contains("Reopen"), "\(message)")
            #expect(message.contains("pogreb repair"), "\(message)")
            if message.contains("segment-") { #expect(message.contains("the index is damaged"), "\(message)") }
        }
    }
}
