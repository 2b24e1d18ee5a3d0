import Foundation
import PogrebTestSupport
import Synchronization
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

/// An open that races `Database.build`'s exchange of directories.
@Suite struct DirectorySwapTests {
    @Test func aWriterWhoseDirectoryIsSwappedBeforeItLocksBindsToTheNewOne() throws {
        try withTemporaryDirectory { root in
            let path = root + "/db"
            let other = root + "/other"
            for (directory, text) in [(path, "old"), (other, "new")] {
                let db = try Database.open(at: directory)
                try db.put(key(1), bytes(text))
                try db.close()
            }
            // Between the writer's open of the directory and its lock, the directories are
            // exchanged, as the bulk builder does: the path now names the new database.
            let swaps = Atomic<Int>(0)
            PosixFileSystem.beforeLockingDirectory.withLock {
                $0[path] = {
                    if swaps.add(1, ordering: .relaxed).oldValue == 0 { try? PathOperations.exchange(other, path) }
                }
            }
            defer { _ = PosixFileSystem.beforeLockingDirectory.withLock { $0.removeValue(forKey: path) } }
            let db = try Database.open(at: path)
            #expect(swaps.load(ordering: .relaxed) >= 1, "the hook ran")
            #expect(try db.get(key(1)) == bytes("new"), "the writer opened the database the path names")
            try db.put(key(2), value(2))
            try db.close()

            let current = try Database.open(at: path, options: readOnly())
            #expect(try current.get(key(2)) == value(2), "the write went to the database at the path")
            try current.close()
            let swappedOut = try Database.open(at: other, options: readOnly())
            #expect(try swappedOut.get(key(1)) == bytes("old"))
            #expect(try swappedOut.get(key(2)) == nil, "nothing was written to the swapped-out directory")
            try swappedOut.close()
        }
    }

    @Test func aLockTakenOnASwappedOutDirectoryIsRefused() throws {
        try withTemporaryDirectory { root in
            let path = root + "/db"
            let other = root + "/other"
            for directory in [path, other] { try Database.open(at: directory).close() }
            let fileSystem = PosixFileSystem(directory: path)
            try fileSystem.prepareDirectory(create: false)
            try PathOperations.exchange(other, path)
            let error = expectPogrebError(.locked) { _ = try fileSystem.lockDirectory(exclusive: true) }
            #expect(error?.message.contains("replaced") == true, "\(error.map { "\($0)" } ?? "")")
        }
    }

    private func readOnly() -> Options {
        var options = Options()
        options.readOnly = true
        return options
    }
}
