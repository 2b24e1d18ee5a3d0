/// Appends little-endian integers and bytes to an array: how every encoder in `Format/` writes
/// its fields (a record's header is written in place by `Record.append`, and XXH3 keeps its own
/// little-endian stores).
struct ByteWriter {
    var bytes: [UInt8]

    init(capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    mutating func append(_ value: UInt8) { bytes.append(value) }
    mutating func append(_ value: UInt16) {
        unsafe withUnsafeBytes(of: value.littleEndian) { unsafe bytes.append(contentsOf: $0) }
    }
    mutating func append(_ value: UInt32) {
        unsafe withUnsafeBytes(of: value.littleEndian) { unsafe bytes.append(contentsOf: $0) }
    }
    mutating func append(_ value: UInt64) {
        unsafe withUnsafeBytes(of: value.littleEndian) { unsafe bytes.append(contentsOf: $0) }
    }
    mutating func append(contentsOf other: some Sequence<UInt8>) { bytes.append(contentsOf: other) }
    mutating func appendZeros(_ count: Int) { bytes.append(contentsOf: repeatElement(0, count: count)) }

    /// Overwrites four bytes at `offset` with `value`, little-endian.
    mutating func set(_ value: UInt32, at offset: Int) {
        for i in 0..<4 { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(i))) }
    }
}

/// Reads little-endian integers from bytes that came from a file, checking every length first.
///
/// Every read throws ``PogrebError/Code/corrupted`` naming `file` and the absolute offset when the
/// bytes run out: a decoder never traps on what it was given.
package struct ByteReader {
    let bytes: [UInt8]
    private(set) var position: Int
    let file: String
    let baseOffset: Int64

    package init(_ bytes: [UInt8], file: String, baseOffset: Int64 = 0) {
        self.bytes = bytes
        self.position = 0
        self.file = file
        self.baseOffset = baseOffset
    }

    package var remaining: Int { bytes.count - position }

    private mutating func need(_ count: Int, _ what: String) throws(PogrebError) {
        guard count >= 0, remaining >= count else {
            throw PogrebError.corrupted(
                file: file, offset: baseOffset + Int64(position),
                "\(what) needs \(count) bytes, only \(remaining) remain")
        }
    }

    mutating func uint8(_ what: String) throws(PogrebError) -> UInt8 {
        try need(1, what)
        defer { position += 1 }
        return bytes[position]
    }

    mutating func uint16(_ what: String) throws(PogrebError) -> UInt16 {
        try need(2, what)
        defer { position += 2 }
        return UInt16(bytes[position]) | UInt16(bytes[position + 1]) << 8
    }

    mutating func uint32(_ what: String) throws(PogrebError) -> UInt32 {
        try need(4, what)
        var value: UInt32 = 0
        for i in 0..<4 { value |= UInt32(bytes[position + i]) << (8 * UInt32(i)) }
        position += 4
        return value
    }

    mutating func uint64(_ what: String) throws(PogrebError) -> UInt64 {
        try need(8, what)
        var value: UInt64 = 0
        for i in 0..<8 { value |= UInt64(bytes[position + i]) << (8 * UInt64(i)) }
        position += 8
        return value
    }

    mutating func take(_ count: Int, _ what: String) throws(PogrebError) -> ArraySlice<UInt8> {
        try need(count, what)
        defer { position += count }
        return bytes[position..<(position + count)]
    }

    /// The absolute offset of the next byte, for messages.
    package var offset: Int64 { baseOffset + Int64(position) }
}

extension UnsafeRawBufferPointer {
    /// A little-endian `UInt32` at `offset`; the caller checked the bounds.
    @inline(__always)
    func loadLE32(at offset: Int) -> UInt32 {
        unsafe UInt32(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
    /// A little-endian `UInt16` at `offset`; the caller checked the bounds.
    @inline(__always)
    func loadLE16(at offset: Int) -> UInt16 {
        unsafe UInt16(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }
    /// A little-endian `UInt64` at `offset`; the caller checked the bounds.
    @inline(__always)
    func loadLE64(at offset: Int) -> UInt64 {
        unsafe UInt64(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
}
