import Glibc
import Pogreb
import PogrebWorkload
import Testing

@testable import PogrebTool

/// A bulk build (`pogreb import --replace`, which runs `Database.build`) SIGKILLed at a random
/// moment leaves the database at its path whole: exactly the previous generation, or exactly the
/// new one if the switch happened before the kill — never a mix, never unopenable.
@Suite("kill -9 during a bulk build", .serialized)
struct BuildKillTests {
    static let keys = 20_000

    /// JSON Lines of generation `g`: key `key-i` holds `g:i`, for i in 0..<keys(g).
    static func input(generation g: Int) -> [UInt8] {
        var output: [UInt8] = []
        let encoder = LineEncoder(style: .jsonl, keysOnly: false)
        for i in 0..<(keys + g) {
            encoder.append(key: Array("key-\(i)".utf8), value: Array("\(g):\(i)".utf8), to: &output)
        }
        return output
    }

    /// The generation the database at `path` holds, after checking every key belongs to it.
    static func generation(at path: String) throws -> Int? {
        let db = try Database.open(
            at: path,
            options: {
                var o = Options()
                o.readOnly = true
                return o
            }())
        defer { try? db.close() }
        guard let first = try db.string(forKey: "key-0"), let g = Int(first.split(separator: ":").first ?? "") else {
            return nil
        }
        let count = try db.count
        #expect(count == keys + g, "generation \(g) holds \(count) keys")
        var wrong = 0
        try db.forEachItem { item in
            let key = String(decoding: item.key, as: UTF8.self)
            let value = String(decoding: item.value, as: UTF8.self)
            if value != "\(g):\(key.dropFirst(4))" { wrong += 1 }
        }
        #expect(wrong == 0, "\(wrong) keys hold a value of another generation than \(g)")
        return g
    }

    @Test func aKilledBuildLeavesTheOldDatabaseOrTheNewOne() throws {
        let seed =
            KillTests.environment("POGREB_SEED").flatMap { UInt64($0) } ?? UInt64.random(in: 1...UInt64(UInt32.max))
        print("bulk-build kill test: POGREB_SEED=\(seed)")
        var timing = RandomStream(seed: seed)
        let executable = try pogrebBinary()
        let dir = try TemporaryDirectory("buildkill")
        let path = dir.child("db")
        _ = try Database.build(at: path, from: (0..<Self.keys).map { (Array("key-\($0)".utf8), Array("0:\($0)".utf8)) })
        // One build run to its end, to learn how long a build takes here; the kills then land
        // anywhere from the start to a little past the end.
        let first = dir.child("input-1.jsonl")
        try writeBytes(Self.input(generation: 1), to: first)
        let started = now()
        let whole = try ChildProcess(executable: executable, arguments: ["import", path, first, "--replace"])
        _ = whole.wait()
        let duration = now() - started
        #expect(try Self.generation(at: path) == 1)
        var current = 1
        var completed = 0
        for round in 2...9 {
            let file = dir.child("input-\(round).jsonl")
            try writeBytes(Self.input(generation: round), to: file)
            let child = try ChildProcess(executable: executable, arguments: ["import", path, file, "--replace"])
            let delay = duration * 1.3 * Double(timing.next() % 1000) / 1000
            usleep(useconds_t(delay * 1_000_000))
            child.kill(SIGKILL)
            _ = child.wait()
            let found = try Self.generation(at: path)
            #expect(
                found == current || found == round,
                "round \(round): generation \(found.map(String.init) ?? "none"), expected \(current) or \(round); seed \(seed)"
            )
            if found == round { completed += 1 }
            current = found ?? current
        }
        print(
            "bulk-build kill test: a whole build took \(Int(duration * 1000)) ms; \(completed) of 8 killed builds "
                + "had switched in before the kill"
        )
    }
}
