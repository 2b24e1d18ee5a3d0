import CPogrebCRC32C

/// CRC-32C (Castagnoli), the checksum of every record and header in the files.
///
/// Computed by `CPogrebCRC32C`: the SSE4.2 or ARMv8 CRC32 instructions when the CPU has them,
/// a slicing-by-8 table otherwise. `checksum(b, continuing: checksum(a))` equals the checksum
/// of `a` followed by `b`.
package enum CRC32C {
    /// The CRC-32C of `bytes`, continuing `crc` (the result of an earlier call over the bytes
    /// that precede these; 0 to start).
    @inline(__always)
    package static func checksum(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        unsafe c_pogreb_crc32c(crc, bytes.baseAddress, bytes.count)
    }

    /// The CRC-32C of `bytes`, continuing `crc`.
    @inline(__always)
    package static func checksum(_ bytes: [UInt8], continuing crc: UInt32 = 0) -> UInt32 {
        unsafe bytes.withUnsafeBytes { raw in unsafe checksum(raw, continuing: crc) }
    }

    /// The checksum of an index bucket: the CRC-32C of bytes 0..<60 of the 64 bytes at `bucket`,
    /// continued over the 8 little-endian bytes of `id` (docs/FORMAT.md, section 5). One C call
    /// of eight CRC instructions when the CPU has them.
    @inline(__always)
    static func bucketChecksum(_ bucket: UnsafeRawPointer, id: BucketID) -> UInt32 {
        unsafe c_pogreb_crc32c_bucket(bucket, id.rawValue)
    }

    /// Whether the CPU instructions are in use (otherwise the portable tables are).
    static var usesHardware: Bool {
        c_pogreb_crc32c_hardware() != 0
    }

    /// The portable table implementation, whatever the CPU: for tests and benchmarks.
    static func portableChecksum(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        unsafe c_pogreb_crc32c_portable(crc, bytes.baseAddress, bytes.count)
    }
}
