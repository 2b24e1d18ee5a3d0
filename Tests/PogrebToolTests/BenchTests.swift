import Glibc
import Pogreb
import Testing

@testable import PogrebTool

@Suite("pogreb bench")
struct BenchTests {
    @Test("the data of WORKLOAD.md")
    func workloadData() {
        // splitmix64(0) of the reference SplitMix64.
        #expect(splitmix64(0) == 0xE220_A839_7B1D_CDAF)
        var stream = RandomStream(seed: 7)
        #expect(stream.next() == splitmix64(7))
        #expect(stream.next() == splitmix64(7 &+ 0x9E37_79B9_7F4A_7C15))
        let key = BenchData.key(0x0102_0304_0506_0708)
        #expect(key.count == 16)
        #expect(Array(key[0..<8]) == [1, 2, 3, 4, 5, 6, 7, 8])
        let mixed = splitmix64(0x0102_0304_0506_0708)
        #expect(Array(key[8..<16]) == (0..<8).map { UInt8(truncatingIfNeeded: mixed >> (56 - 8 * UInt64($0))) })
        let value = BenchData.value(5, version: 1)
        #expect(value.count == 128)
        let word = splitmix64((1 << 40) ^ (5 << 4) ^ 3)
        #expect(Array(value[24..<32]) == (0..<8).map { UInt8(truncatingIfNeeded: word >> (8 * UInt64($0))) })
        #expect(value.withUnsafeBytes { BenchData.matches($0, 5, version: 1) })
        #expect(!value.withUnsafeBytes { BenchData.matches($0, 5, version: 0) })
        // The load order is a permutation, and the documented shuffle.
        let order = BenchData.loadOrder(1000)
        #expect(Set(order).count == 1000)
        var expected = Array(0..<UInt32(1000))
        var shuffle = RandomStream(seed: 42)
        for k in stride(from: 999, through: 1, by: -1) { expected.swapAt(k, Int(shuffle.next() % UInt64(k + 1))) }
        #expect(order == expected)
        // W9 keys: unique, 16–64 printable bytes; values 128–512 bytes.
        var keys = Set<[UInt8]>()
        var buffer: [UInt8] = []
        var valueBuffer: [UInt8] = []
        for i in 0..<UInt64(5000) {
            W9Data.fillKey(i, &buffer)
            #expect((16...64).contains(buffer.count))
            #expect(buffer.allSatisfy { $0 >= 0x20 && $0 < 0x7F })
            keys.insert(buffer)
            W9Data.fillValue(i, &valueBuffer)
            #expect((128...512).contains(valueBuffer.count))
            #expect(valueBuffer.withUnsafeBytes { W9Data.matches($0, i) })
            #expect(!valueBuffer.withUnsafeBytes { W9Data.matches($0, i + 1) })
        }
        #expect(keys.count == 5000)
    }

    @Test("bench --count 20000 verifies every value and exits 0 (binary, table and JSON)")
    func benchRuns() throws {
        let table = try runBinary(["bench", "--count", "20000"])
        #expect(table.status == 0, "\(table)")
        for word in ["W1", "W2", "W3", "all values verified", "0 wrong, 0 missing", "cores", "p99"] {
            #expect(table.text.contains(word), "missing \(word) in\n\(table.text)")
        }
        let json = try runBinary(["bench", "--count", "20000", "--workloads", "W1,W3,W9", "--json"])
        #expect(json.status == 0, "\(json)")
        #expect(json.text.hasPrefix("{\"tool\":\"pogreb bench\",\"n\":20000"))
        #expect(json.text.contains("\"W9\":{"))
        #expect(json.text.contains("\"wrongAnswers\":0"))
        #expect(!json.text.contains("\"W2\""))
    }

    @Test("bench W5 and W6 (compaction, recovery after SIGKILL) at small N")
    func benchCompactionAndRecovery() throws {
        let dir = try TemporaryDirectory("bench")
        let result = try runBinary(["bench", "--count", "5000", "--workloads", "W5,W6", "--segment-size", String(1 << 20), "--path", dir.child("work")])
        #expect(result.status == 0, "\(result)")
        #expect(result.text.contains("open after crash, no tail"))
        #expect(Files.isDirectory(dir.child("work") + "/w6"))  // --path is kept
    }

    @Test("a bench that reads a wrong value fails loudly with status 3")
    func benchFailsOnWrongValue() throws {
        // A hidden option overwrites one key with a wrong version after the load.
        let result = try runBinary(["bench", "--count", "1000", "--workloads", "W2", "--test-damage-one-value"])
        #expect(result.status == 3, "\(result)")
        #expect(result.error.contains("FAILED"), "\(result.error)")
        #expect(result.error.contains("wrong value"), "\(result.error)")
    }
}
