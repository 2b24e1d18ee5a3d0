import Glibc
import Pogreb
import PogrebWorkload
import Testing

@testable import PogrebTool

@Suite("pogreb bench")
struct BenchTests {
    @Test("the data of docs/WORKLOADS.md")
    func workloadData() {
        // splitmix64(0) of the reference SplitMix64.
        #expect(splitmix64(0) == 0xE220_A839_7B1D_CDAF)
        var stream = RandomStream(seed: 7)
        #expect(stream.next() == splitmix64(7))
        #expect(stream.next() == splitmix64(7 &+ 0x9E37_79B9_7F4A_7C15))
        let key = WorkloadData.key(0x0102_0304_0506_0708)
        #expect(key.count == 16)
        #expect(Array(key[0..<8]) == [1, 2, 3, 4, 5, 6, 7, 8])
        let mixed = splitmix64(0x0102_0304_0506_0708)
        #expect(Array(key[8..<16]) == (0..<8).map { UInt8(truncatingIfNeeded: mixed >> (56 - 8 * UInt64($0))) })
        let value = WorkloadData.value(5, version: 1)
        #expect(value.count == 128)
        let word = splitmix64((1 << 40) ^ (5 << 4) ^ 3)
        #expect(Array(value[24..<32]) == (0..<8).map { UInt8(truncatingIfNeeded: word >> (8 * UInt64($0))) })
        #expect(value.withUnsafeBytes { WorkloadData.matches($0, 5, version: 1) })
        #expect(!value.withUnsafeBytes { WorkloadData.matches($0, 5, version: 0) })
        // The load order is a permutation, and the documented shuffle.
        let order = WorkloadData.loadOrder(1000)
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

    @Test("the first W1 keys, values and load positions are pinned to their bytes")
    func workloadDataPinned() {
        // Computed from the generator before it moved into PogrebWorkload: a change of the data
        // (which every published figure and docs/WORKLOADS.md depend on) fails here.
        func hex(_ bytes: [UInt8]) -> String {
            bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        }
        let keys = [
            "0000000000000000e220a8397b1dcdaf", "0000000000000001910a2dec89025cc1",
            "0000000000000002975835de1c9756ce",
        ]
        let values = [
            "afcd1d7b39a820e2c15c0289ec2d0a91ce56971cde355897ed8f01dbe4140b1dca8a33e272e3736e5ac389a30c3b0363"
                + "00e0efadd9a564bdd70d3259e4e1cb63363695efb051569e646070befe52afaeca2f588abe1287089d3080237d64f5"
                + "50038fde99fcf93f94ff8aadf8b737cac43ee6db3514d6a96a0550f5ab07935b87",
            "079277badc86e15d6373e32ef075848032f05509d0b32011441a43eff27540bc8c81164890592236c725e8b7950aca06"
                + "0a0ed6d4f9e00dc8d681011b00dad7e8441ea80000c0c8aa09b7c7f02cc108a2da4d550fe8f4b7c38a06815932354e"
                + "976c149fd48a765c9070cf0188ab497bbbce0d72f27a57eea8eaea9f87779659d7",
            "01244eb5277febeaa81822beed0f0e2c0da4d4d92d2d24895bb0aadf25b85c4d1bba24072916b3e907a98d7c0556abc7"
                + "b07eb416afcf01ebecdecce3a6576ace1291a10c0bae9e3649c93ba96e848e11956eeb2f2632d7bd88ef4feb90ec69"
                + "ba53549a29122945fbd64ac08cf8f3e9f70730222ef356eeba85db7c595cc4b37b",
        ]
        for i in 0..<3 {
            #expect(hex(WorkloadData.key(UInt64(i))) == keys[i], "key \(i)")
            #expect(hex(WorkloadData.value(UInt64(i), version: 0)) == values[i], "value \(i)")
        }
        #expect(
            hex(WorkloadData.value(1, version: 1))
                == "b5e82aa91672664abaa94d53322cee4788bf7cac34570357c5f85cd1498ddbf7e7f08dc0dc85ae1cb5199de0f303041c"
                + "965b602ffb50e36129ee792562c503ec2de3bb23c7efa8e9712b2a6afc3d5982fceabf787d55fc4301b66b3a4e1342f5"
                + "a426644d35c81aeed16b7e7e0c3b399e8dc5ead36c6914382d4ed10cb23654b9")
        // The first keys W1 puts at N = 1 000 000 (the default).
        #expect(Array(WorkloadData.loadOrder(1_000_000).prefix(4)) == [992_795, 408_181, 862_459, 899_070])
        #expect(hex(WorkloadData.key(992_795)) == "00000000000f261bcaf087be57d406fd")
        var key: [UInt8] = []
        var value: [UInt8] = []
        W9Data.fillKey(0, &key)
        W9Data.fillValue(0, &value)
        #expect(
            hex(key) == "43756d384c6b5b28713949294744326044374c68204f713178586d297c765d39"
                + "2a7676703d3f54282f2467347a2f657d386a21304a2051673661315136")
        #expect(value.count == 448)
        #expect(hex(Array(value.prefix(16))) == "90758d3014a4d267275ff32079559506")
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
        let result = try runBinary([
            "bench", "--count", "5000", "--workloads", "W5,W6", "--segment-size", String(1 << 20), "--path",
            dir.child("work"),
        ])
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
