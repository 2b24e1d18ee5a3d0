import Foundation
import PogrebTestSupport
import Testing

@testable import Pogreb

/// The directory lock: one writer, or any number of read-only opens, never both; the exclusion
/// holds whatever happens to the files of the directory.
@Suite struct DirectoryLockTests {
    @Test(arguments: FileSystemKind.allCases)
    func aWriterCannotOpenBesideAReaderAfterTheLockFileIsDeleted(kind: FileSystemKind) throws {
        try withTestDatabase(kind) { t in
            let db = try t.open()
            try db.put(key(1), value(1))
            try db.close()
            // An older build left a `pogreb.lock`; a user then deletes it as a "stale lock".
            try t.setContents(of: DatabaseFiles.lock, to: [])
            let reader = try t.open { $0.readOnly = true }
            try t.removeFile(DatabaseFiles.lock)
            let error = expectPogrebError(.locked, "a writer opened beside a reader") { _ = try t.open() }
            #expect(error?.message.contains("open read-only") == true, "\(error.map { "\($0)" } ?? "")")
            if let directory = t.directory {
                expectPogrebError(.locked, "a second value on the same path") { _ = try Database.open(at: directory) }
            }
            #expect(try reader.get(key(1)) == value(1))
            try reader.close()
            let writer = try t.open()
            try writer.close()
        }
    }

    @Test(arguments: FileSystemKind.allCases)
    func openingCreatesNoLockFile(kind: FileSystemKind) throws {
        try withTestDatabase(kind) { t in
            let db = try t.open()
            try db.put(key(1), value(1))
            #expect(try !t.fileNames().contains(DatabaseFiles.lock))
            try db.close()
            let reader = try t.open { $0.readOnly = true }
            try reader.close()
            _ = try Database.repair(fileSystem: t.fileSystem)
            let names = try t.fileNames()
            #expect(!names.contains(DatabaseFiles.lock), "\(names)")
        }
    }

    @Test(arguments: FileSystemKind.allCases)
    func theLockedMessageSaysWhoHoldsTheDirectory(kind: FileSystemKind) throws {
        try withTestDatabase(kind) { t in
            let writer = try t.open()
            let second = expectPogrebError(.locked) { _ = try t.open() }
            #expect(second?.message.contains("open for writing") == true, "\(second.map { "\($0)" } ?? "")")
            #expect(second?.message.contains("one writer at a time") == true)
            let reader = expectPogrebError(.locked) { _ = try t.open { $0.readOnly = true } }
            #expect(reader?.message.contains("open for writing") == true, "\(reader.map { "\($0)" } ?? "")")
            try writer.close()

            let first = try t.open { $0.readOnly = true }
            let blocked = expectPogrebError(.locked) { _ = try t.open() }
            #expect(blocked?.message.contains("open read-only") == true, "\(blocked.map { "\($0)" } ?? "")")
            #expect(blocked?.message.contains("one writer at a time") == false)
            try first.close()
        }
    }
}
