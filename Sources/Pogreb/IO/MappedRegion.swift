#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CPogrebSystem

/// A read-only view of the first ``count`` bytes of a file: an `mmap` of a real file, or a copy
/// held by the memory file system.
///
/// The mapping is released exactly once, when the last reference goes away. The owner of a region
/// (the segment or index that mapped it) keeps it alive for as long as any reader may use the
/// pointer; readers only see bytes through ``withBytes(_:)`` and the checked loads below.
@safe package final class MappedRegion: @unchecked Sendable {
    // @unchecked Sendable: the bytes are never written through this object, and `base`/`count`
    // are immutable, so sharing it between threads is safe.
    package let base: UnsafeRawPointer
    package let count: Int
    private let release: @Sendable (UnsafeRawPointer, Int) -> Void

    package init(base: UnsafeRawPointer, count: Int, release: @escaping @Sendable (UnsafeRawPointer, Int) -> Void) {
        unsafe self.base = base
        self.count = count
        unsafe self.release = unsafe release
    }

    /// Lends the whole region; the buffer must not escape `body`.
    @inline(__always)
    package func withBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try unsafe body(UnsafeRawBufferPointer(start: base, count: count))
    }

    /// Loads a little-endian `UInt64` at `offset`. The caller has checked `offset + 8 <= count`.
    @inline(__always)
    package func loadUInt64(at offset: Int) -> UInt64 {
        assert(offset >= 0 && offset + 8 <= count)
        return unsafe UInt64(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    deinit {
        unsafe release(base, count)
    }
}

extension MappedRegion {
    /// Maps `length` bytes of `fd` read-only and shared (`mmap(PROT_READ, MAP_SHARED)`), with
    /// `madvise(MADV_RANDOM)` when `randomAccess` is set.
    static func map(fileDescriptor fd: Int32, length: Int, randomAccess: Bool) throws(Errno) -> MappedRegion {
        precondition(length > 0, "cannot map an empty region")
        let pointer = try unsafe SystemCalls.mapReadOnly(fd, length: length, randomAccess: randomAccess)
        return unsafe MappedRegion(base: UnsafeRawPointer(pointer), count: length) { base, count in
            unsafe SystemCalls.unmap(base, length: count)
        }
    }

    /// Copies `bytes` into a fresh allocation that the region frees.
    package static func copy(of bytes: UnsafeRawBufferPointer) -> MappedRegion {
        let count = max(bytes.count, 1)
        let storage = UnsafeMutableRawPointer.allocate(byteCount: count, alignment: 64)
        if let source = bytes.baseAddress, bytes.count > 0 {
            unsafe storage.copyMemory(from: source, byteCount: bytes.count)
        }
        return unsafe MappedRegion(base: UnsafeRawPointer(storage), count: bytes.count) { base, _ in
            unsafe UnsafeMutableRawPointer(mutating: base).deallocate()
        }
    }
}

extension MappedRegion {
    /// Starts loading the cache line at `offset` into the CPU cache (`__builtin_prefetch`); a
    /// hint that never faults. Offsets outside the region are ignored.
    @inline(__always)
    package func prefetch(at offset: Int) {
        unsafe MappedRegion.prefetch(base, count: count, at: offset)
    }

    /// ``prefetch(at:)`` for the mapping of `count` bytes at `base`, given as plain values by a
    /// caller that must not touch the region's reference count (the read path).
    @inline(__always)
    package static func prefetch(_ base: UnsafeRawPointer, count: Int, at offset: Int) {
        guard offset >= 0, offset < count else { return }
        unsafe c_pogreb_prefetch(base + offset)
    }
}
