import Foundation
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
}
