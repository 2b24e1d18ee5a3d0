import Foundation
import Testing

@testable import Pogreb

@Suite("CRC32C")
struct CRC32CTests {
    /// Bit-at-a-time CRC-32C, straight from the definition (reflected polynomial 0x82F63B78).
    static func reference(_ bytes: some Sequence<UInt8>, continuing crc: UInt32 = 0) -> UInt32 {
        var register = ~crc
        for byte in bytes {
            register ^= UInt32(byte)
            for _ in 0..<8 {
                register = (register >> 1) ^ (register & 1 == 0 ? 0 : 0x82F6_3B78)
            }
        }
        return ~register
    }

    /// Deterministic, irregular test bytes.
    static func bytes(_ count: Int, seed: UInt64 = 0x9E37_79B9_7F4A_7C15) -> [UInt8] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: state >> 56)
        }
    }

    static func hex(_ value: UInt32) -> String { "0x" + String(value, radix: 16) }

    @Test func checkValue() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(Self.reference(Array("123456789".utf8)) == 0xE306_9283)
    }

    @Test func knownVectors() {
        // RFC 3720 (iSCSI), appendix B.4.
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum(Array(UInt8(0)..<32)) == 0x46DD_794E)
        #expect(CRC32C.checksum(Array((UInt8(0)..<32).reversed())) == 0x113F_DB5C)
    }

    @Test func emptyInputLeavesTheCRCUnchanged() {
        #expect(CRC32C.checksum([]) == 0)
        #expect(CRC32C.checksum([], continuing: 0xDEAD_BEEF) == 0xDEAD_BEEF)
        #expect(CRC32C.checksum(UnsafeRawBufferPointer(start: nil, count: 0), continuing: 7) == 7)
    }

    @Test func chainingEqualsOneShot() {
        let data = Self.bytes(1000)
        let whole = CRC32C.checksum(data)
        #expect(whole == Self.reference(data))
        data.withUnsafeBytes { raw in
            for split in 0...data.count {
                let first = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[0..<split]))
                let both = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[split...]), continuing: first)
                #expect(both == whole, "split at \(split)")
            }
            // Many small pieces of uneven sizes.
            var crc: UInt32 = 0
            var start = 0
            var piece = 1
            while start < data.count {
                let end = min(start + piece, data.count)
                crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[start..<end]), continuing: crc)
                start = end
                piece = piece % 13 + 1
            }
            #expect(crc == whole)
        }
    }

    /// The dispatched implementation (hardware where available) and the portable tables both
    /// match the bit-at-a-time definition for every length class at every misalignment. The
    /// hardware path runs three interleaved lanes of 128 bytes from 384 bytes on and of 1 KiB
    /// from 3 KiB on, so the lengths include both boundaries.
    @Test(arguments: [
        0, 1, 3, 4, 5, 7, 8, 9, 15, 16, 31, 32, 33, 63, 64, 65, 255, 383, 384, 385, 1000,
        3071, 3072, 3073, 4096, 4097, 6150, 9999,
    ])
    func matchesReference(length: Int) {
        let data = Self.bytes(length, seed: UInt64(length) &+ 1)
        for crc: UInt32 in [0, 0xFFFF_FFFF, 0x1234_5678] {
            let expected = Self.reference(data, continuing: crc)
            var storage = [UInt8](repeating: 0xEE, count: length + 16)
            for misalignment in 0..<16 {
                storage.replaceSubrange(misalignment..<(misalignment + length), with: data)
                storage.withUnsafeBytes { raw in
                    let slice = UnsafeRawBufferPointer(rebasing: raw[misalignment..<(misalignment + length)])
                    let dispatched = CRC32C.checksum(slice, continuing: crc)
                    let portable = CRC32C.portableChecksum(slice, continuing: crc)
                    #expect(
                        dispatched == expected,
                        "misalignment \(misalignment): got \(Self.hex(dispatched)), want \(Self.hex(expected))")
                    #expect(portable == expected, "portable, misalignment \(misalignment)")
                }
            }
        }
    }

    /// Catches a CPU check that silently falls back to the tables: when the CPU advertises the
    /// instructions, they must be in use.
    @Test func hardwareIsUsedWhenTheCPUHasIt() throws {
        #if os(macOS) || os(iOS)
        #expect(CRC32C.usesHardware)  // every Apple CPU since 2008 has SSE4.2 or ARMv8 CRC32
        #elseif os(Linux) && (arch(x86_64) || arch(arm64))
        let cpuinfo = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        let flags = cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") || $0.hasPrefix("Features") }
        let words = flags.map { Set($0.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == ":" })) } ?? []
        #if arch(x86_64)
        let advertised = words.contains("sse4_2")
        #else
        let advertised = words.contains("crc32")
        #endif
        #expect(CRC32C.usesHardware == advertised, "cpuinfo \(advertised ? "has" : "lacks") the instructions")
        #endif
    }
}
