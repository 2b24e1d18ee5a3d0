import Foundation
import Pogreb
import PogrebTestSupport
import Testing

/// The README's example, line for line (paths moved into a temporary directory), so the README
/// cannot drift from the API.
@Suite struct ReadmeExampleTests {
    @Test func theExampleRunsAndDoesWhatItSays() throws {
        try withTemporaryDirectory { root in
            let db = try Database.open(at: root + "/example.pogreb")
            try db.put("greeting", "hello")
            try db.put([1, 2, 3], [4, 5, 6])
            #expect(try db.string(forKey: "greeting") == "hello")
            let length = try db.withValue(forKey: [1, 2, 3]) { $0?.count ?? 0 }
            #expect(length == 3)
            let values = try db.get(many: [[1, 2, 3], [9]])
            #expect(values == [[4, 5, 6], nil])
            try db.write { batch in
                batch.put("a", "1")
                batch.delete("greeting")
            }
            #expect(try db.get("greeting") == nil)
            try db.putIfAbsent("b", "2")
            var seen = 0
            try db.forEachItem { _ in seen += 1 }
            #expect(seen == 3)
            try db.sync()
            try db.backup(to: root + "/example-backup.pogreb")
            try db.close()
            try Database.build(at: root + "/served.pogreb", from: [([1], [2])])
            let served = try Database.open(at: root + "/served.pogreb")
            #expect(try served.get([1]) == [2])
            try served.close()
            let backup = try Database.open(at: root + "/example-backup.pogreb")
            #expect(try backup.count == 3)
            #expect(try backup.statistics.recordsReplayedAtOpen == 0)
            try backup.close()
        }
    }
}
