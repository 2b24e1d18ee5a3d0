import Foundation
import Pogreb
import PogrebTestSupport
import Testing

/// The README's example: its text is checked against the copy below, and that code, line for
/// line (paths moved into a temporary directory), runs twice in a row, as a new user trying it
/// again would run it.
@Suite struct ReadmeExampleTests {
    /// The README's example, byte for byte. When the README changes, change this and
    /// ``example(in:)`` with it.
    static let snippet = """
        import Pogreb

        let db = try Database.open(at: "/tmp/example.pogreb")
        try db.put("greeting", "hello")                      // String keys and values (UTF-8)
        try db.put([1, 2, 3], [4, 5, 6])                      // or bytes, or any byte sequence
        print(try db.string(forKey: "greeting") ?? "absent")  // "hello"
        let length = try db.withValue(forKey: [1, 2, 3]) { $0?.count ?? 0 }  // zero-copy read
        let values = try db.get(many: [[1, 2, 3], [9]])       // batched lookup: [[4, 5, 6], nil]
        try db.write { batch in                               // atomic: all or nothing
            batch.put("a", "1")
            batch.delete("greeting")
        }
        try db.putIfAbsent("b", "2")                          // also compareAndSwap, update
        try db.forEachItem { item in print(item.key, item.value) }
        try db.sync()                                         // durable from here
        try db.backup(to: "/tmp/example-backup.pogreb", replacing: true)  // consistent copy, no replay
        try db.close()
        try Database.build(at: "/tmp/served.pogreb", from: [([1], [2])])  // one-pass build, swapped in atomically

        """

    /// The Swift block under the README's "## Example" heading.
    static func readmeExample() throws -> String {
        let readme = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("README.md")
        let text = try String(contentsOf: readme, encoding: .utf8)
        guard let heading = text.range(of: "## Example\n"),
            let open = text.range(of: "```swift\n", range: heading.upperBound..<text.endIndex),
            let close = text.range(of: "```\n", range: open.upperBound..<text.endIndex)
        else {
            Issue.record("README.md has no Swift block under \"## Example\"")
            return ""
        }
        return String(text[open.upperBound..<close.lowerBound])
    }

    /// What one run of the example printed or computed.
    struct Run {
        var greeting: String
        var length: Int
        var values: [[UInt8]?]
        var items: Int
    }

    /// ``snippet``, line for line, with `/tmp` replaced by `root`.
    static func example(in root: String) throws -> Run {
        let db = try Database.open(at: root + "/example.pogreb")
        try db.put("greeting", "hello")
        try db.put([1, 2, 3], [4, 5, 6])
        let greeting = try db.string(forKey: "greeting") ?? "absent"
        let length = try db.withValue(forKey: [1, 2, 3]) { $0?.count ?? 0 }
        let values = try db.get(many: [[1, 2, 3], [9]])
        try db.write { batch in
            batch.put("a", "1")
            batch.delete("greeting")
        }
        try db.putIfAbsent("b", "2")
        var items = 0
        try db.forEachItem { _ in items += 1 }
        try db.sync()
        try db.backup(to: root + "/example-backup.pogreb", replacing: true)
        try db.close()
        try Database.build(at: root + "/served.pogreb", from: [([1], [2])])
        return Run(greeting: greeting, length: length, values: values, items: items)
    }

    @Test func theReadmeShowsTheExampleThatIsTested() throws {
        #expect(try Self.readmeExample() == Self.snippet)
    }

    /// The example runs again and again: its directories from the run before exist then.
    @Test func theExampleRunsAgainAndAgainAndDoesWhatItSays() throws {
        try withTemporaryDirectory { root in
            for run in 1...3 {
                let result = try Self.example(in: root)
                #expect(result.greeting == "hello", "run \(run)")
                #expect(result.length == 3, "run \(run)")
                #expect(result.values == [[4, 5, 6], nil], "run \(run)")
                #expect(result.items == 3, "run \(run)")

                let db = try Database.open(at: root + "/example.pogreb")
                #expect(try db.get("greeting") == nil)
                try db.close()
                let served = try Database.open(at: root + "/served.pogreb")
                #expect(try served.get([1]) == [2])
                try served.close()
                let backup = try Database.open(at: root + "/example-backup.pogreb")
                #expect(try backup.count == 3)
                #expect(try backup.statistics.recordsReplayedAtOpen == 0)
                try backup.close()
                let names = try FileManager.default.contentsOfDirectory(atPath: root).sorted()
                #expect(names == ["example-backup.pogreb", "example.pogreb", "served.pogreb"], "run \(run)")
            }
        }
    }
}
