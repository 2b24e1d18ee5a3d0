/// One entry of the log.
///
/// ```
/// offset size field
///      0    4 CRC32C over bytes 4..<12, then the key, then the value
///      4    4 value length (little-endian)
///      8    2 key length (little-endian)
///     10    1 kind: 1 put, 2 delete, 3 batch commit
///     11    1 flags: bit 0 part of a batch, bit 1 copied by compaction
///     12    k key
///   12+k    v value (a delete has none; a commit's is the batch's record count, 8 bytes)
/// ```
/// Records follow each other with no padding. A reader checks the lengths against the limits and
/// the end of the segment before it reads a byte of the body, then the checksum before it trusts
/// any of it.
package enum Record {
    package static let headerSize = 12

    package enum Kind: UInt8, Sendable {
        case put = 1
        case delete = 2
        case commit = 3
    }

    package struct Flags: OptionSet, Sendable {
        package let rawValue: UInt8
        package init(rawValue: UInt8) { self.rawValue = rawValue }
        static let batch = Flags(rawValue: 1)
        static let compactionCopy = Flags(rawValue: 2)
        package static let known: Flags = [.batch, .compactionCopy]
    }

    /// The decoded fixed part of a record.
    package struct Header: Sendable {
        package var checksum: UInt32
        package var valueLength: Int
        package var keyLength: Int
        package var kind: Kind
        package var flags: Flags
        package var totalSize: Int { Record.headerSize + keyLength + valueLength }
    }

    static func size(keyLength: Int, valueLength: Int) -> Int { headerSize + keyLength + valueLength }

    /// The 12 header bytes of a record, checksum included, as three little-endian words.
    ///
    /// Made before the record is appended (``prepareHeader(kind:flags:key:value:)``): the
    /// checksum over the key and value is the costly part of encoding a record, it does not
    /// depend on where the record goes, and the writer computes it before it takes any lock.
    package struct PreparedHeader {
        /// Bytes 0..<4: the checksum.
        var checksum: UInt32
        /// Bytes 4..<8: the value length.
        var valueLength: UInt32
        /// Bytes 8..<12: the key length, the kind and the flags.
        var rest: UInt32
    }

    /// The header of a record of `key` and `value`, with the checksum over bytes 4..<12, the key
    /// and the value.
    package static func prepareHeader(
        kind: Kind, flags: Flags, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer
    ) -> PreparedHeader {
        let valueLength = UInt32(value.count)
        let rest = UInt32(UInt16(key.count)) | UInt32(kind.rawValue) << 16 | UInt32(flags.rawValue) << 24
        var crc = unsafe withUnsafeBytes(of: (valueLength.littleEndian, rest.littleEndian)) { fields in
            unsafe CRC32C.checksum(fields)
        }
        unsafe crc = CRC32C.checksum(key, continuing: crc)
        unsafe crc = CRC32C.checksum(value, continuing: crc)
        return PreparedHeader(checksum: crc, valueLength: valueLength, rest: rest)
    }

    /// Appends the record of `header` (made by ``prepareHeader(kind:flags:key:value:)`` from the
    /// same key and value) to `buffer`: three copies, no checksum.
    @inline(__always)
    package static func append(
        _ header: PreparedHeader, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer,
        to buffer: inout [UInt8]
    ) {
        unsafe withUnsafeBytes(
            of: (header.checksum.littleEndian, header.valueLength.littleEndian, header.rest.littleEndian)
        ) { bytes in
            unsafe buffer.append(contentsOf: bytes)
        }
        unsafe buffer.append(contentsOf: key)
        unsafe buffer.append(contentsOf: value)
    }

    /// Appends an encoded record to `buffer`.
    package static func append(
        kind: Kind, flags: Flags, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer,
        to buffer: inout [UInt8]
    ) {
        let header = unsafe prepareHeader(kind: kind, flags: flags, key: key, value: value)
        unsafe append(header, key: key, value: value, to: &buffer)
    }

    /// Appends a batch commit record that closes a batch of `count` records.
    static func appendCommit(count: Int, to buffer: inout [UInt8]) {
        var value = ByteWriter(capacity: 8)
        value.append(UInt64(count))
        unsafe value.bytes.withUnsafeBytes { v in
            unsafe append(
                kind: .commit, flags: .batch, key: UnsafeRawBufferPointer(start: nil, count: 0), value: v, to: &buffer)
        }
    }

    package enum HeaderProblem: Error {
        /// Fewer than `headerSize` bytes remain.
        case truncated
        /// A field holds a value no writer produces.
        case invalid(String)
    }

    /// Decodes the 12-byte header at the start of `bytes` and checks its fields against the limits
    /// and against `available`, the number of bytes the segment holds from this record on.
    package static func decodeHeader(_ bytes: UnsafeRawBufferPointer, available: Int) -> Result<Header, HeaderProblem> {
        guard bytes.count >= headerSize, available >= headerSize else { return .failure(.truncated) }
        let checksum = unsafe bytes.loadLE32(at: 0)
        let valueLength = Int(unsafe bytes.loadLE32(at: 4))
        let keyLength = Int(unsafe bytes.loadLE16(at: 8))
        guard let kind = unsafe Kind(rawValue: bytes[10]) else {
            return unsafe .failure(.invalid("unknown record kind \(bytes[10])"))
        }
        let flags = unsafe Flags(rawValue: bytes[11])
        guard Flags.known.isSuperset(of: flags) else {
            return .failure(.invalid("unknown record flags \(flags.rawValue)"))
        }
        switch kind {
        case .put:
            guard valueLength <= Limits.maxValueSize else {
                return .failure(.invalid("value length \(valueLength) exceeds the limit"))
            }
        case .delete:
            guard valueLength == 0 else {
                return .failure(.invalid("a delete record with a \(valueLength)-byte value"))
            }
        case .commit:
            guard keyLength == 0, valueLength == 8 else { return .failure(.invalid("a malformed batch commit record")) }
        }
        let header = Header(
            checksum: checksum, valueLength: valueLength, keyLength: keyLength, kind: kind, flags: flags)
        guard header.totalSize <= available else { return .failure(.truncated) }
        return .success(header)
    }

    /// Whether the checksum stored in `record` (a whole record) matches its bytes.
    package static func checksumMatches(_ record: UnsafeRawBufferPointer, header: Header) -> Bool {
        unsafe CRC32C.checksum(UnsafeRawBufferPointer(rebasing: record[4..<header.totalSize])) == header.checksum
    }
}

/// The size limits of keys and values.
package enum Limits {
    /// The largest key, in bytes.
    package static let maxKeySize = 65_535
    /// The largest value, in bytes (512 MiB).
    package static let maxValueSize = 512 << 20
}
