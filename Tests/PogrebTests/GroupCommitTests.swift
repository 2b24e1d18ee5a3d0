import PogrebTestSupport
import PogrebWorkload
import Synchronization
import Testing

@testable import Pogreb

/// Group commit (``Database/makeDurable(upTo:directoryToo:)``): writers with
/// ``Options/SyncPolicy/everyWrite`` share `fdatasync`s, and every put that returned is durable.
@Suite struct GroupCommitTests {
    static func key(_ w: Int, _ i: Int) -> [UInt8] { Array("w\(w)-\(i)".utf8) }
    /// 1 500 to 3 000 bytes: the 1 200 puts fill about three 1 MiB segments.
    static func value(_ w: Int, _ i: Int) -> [UInt8] {
        Array(repeating: UInt8(truncatingIfNeeded: w * 31 + i), count: 1500 + (i * 37) % 1500)
    }

    /// Four writers put with `everyWrite` on small segments (so rotations create files whose
    /// directory entries must be synced too) while a fifth thread takes power-cut images of the
    /// memory file system: every put acknowledged before an image was taken is in it, with its
    /// value, and each image opens. Followers of a sync return without one of their own when it
    /// covered their bytes, so this is what shows that "covered" is never claimed wrongly.
    @Test func everyAcknowledgedPutOfConcurrentDurableWritersSurvivesAPowerCut() throws {
        let fileSystem = MemoryFileSystem()
        var durable = Options()
        smallOptions(&durable)
        durable.syncPolicy = .everyWrite
        let options = durable
        let database = try Database.open(fileSystem: fileSystem, options: options)
        let writers = 4
        let perWriter = 300
        // acknowledged[w]: how many of writer w's puts have returned (its keys 0 ..< that).
        let acknowledged = Lock([Int](repeating: 0, count: writers))
        let failures = Lock<[String]>([])
        let imagesChecked = Atomic<Int>(0)
        let done = Atomic<Int>(0)
        runOnThreads(writers + 1) { t in
            if t < writers {
                for i in 0..<perWriter {
                    do throws(PogrebError) {
                        try database.put(Self.key(t, i), Self.value(t, i))
                    } catch {
                        failures.withLock { $0.append("writer \(t): \(error)") }
                        break
                    }
                    acknowledged.withLock { $0[t] = i + 1 }
                }
                done.add(1, ordering: .releasing)
                return
            }
            // The observer: the acknowledged counts first, then the image.
            while done.load(ordering: .acquiring) < writers {
                let counts = acknowledged.withLock { $0 }
                let image = fileSystem.crashImage()
                do throws(PogrebError) {
                    let reopened = try Database.open(fileSystem: image, options: options)
                    defer { try? reopened.close() }
                    for w in 0..<writers {
                        for i in 0..<counts[w] where try reopened.get(Self.key(w, i)) != Self.value(w, i) {
                            failures.withLock { $0.append("w\(w)-\(i) acknowledged but not in the image") }
                        }
                    }
                } catch {
                    failures.withLock { $0.append("an image does not open: \(error)") }
                }
                imagesChecked.add(1, ordering: .relaxed)
            }
        }
        try database.close()
        let problems = failures.withLock { $0 }
        #expect(problems.count == 0, Comment(rawValue: problems.prefix(5).joined(separator: "\n")))
        #expect(imagesChecked.load(ordering: .relaxed) > 0)
        print(
            "group commit: \(writers * perWriter) durable puts, \(imagesChecked.load(ordering: .relaxed)) power-cut images checked"
        )
    }
}
