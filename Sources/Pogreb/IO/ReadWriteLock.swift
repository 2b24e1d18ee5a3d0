#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// A reader-writer lock around a value: any number of readers at once, or one writer.
///
/// Readers spread over several `pthread_rwlock_t`s, one per shard, each on its own cache lines;
/// a thread always uses the same shard (``ReaderSlot``), so two reader threads usually touch
/// different lines and do not slow each other down. A writer takes every shard, in order. On
/// Linux each lock prefers writers, so a steady stream of readers cannot starve the writer.
/// The locks live in one heap allocation that never moves (a pthread lock must not move).
@safe package final class ReadWriteLock<Value>: @unchecked Sendable {
    // @unchecked Sendable: `value` is only touched while the locks are held — one shard shared
    // for reads, all shards exclusively for writes — which is what makes sharing it safe.
    private let locks: UnsafeMutableRawPointer
    private let shardCount: Int
    private static var stride: Int { 128 }  // two cache lines per lock: no false sharing
    /// The value lives in its own allocation, so a borrow of it is a pointer, never a copy (a
    /// stored property of a class would be read through exclusivity checks and may be copied,
    /// retaining every reference inside it, on every lookup).
    private let value: UnsafeMutablePointer<Value>
    /// This lock's read-hold depth on the calling thread (`pthread_getspecific`), so that a read
    /// nested inside another on the same thread does not lock again: with writer preference, a
    /// second `rdlock` behind a waiting writer would wait for ever.
    private let depthKey: pthread_key_t

    package init(_ value: Value) {
        var key = pthread_key_t()
        let created = unsafe pthread_key_create(&key, nil)
        precondition(created == 0, "pthread_key_create failed: \(created)")
        self.depthKey = key
        unsafe self.value = UnsafeMutablePointer<Value>.allocate(capacity: 1)
        unsafe self.value.initialize(to: value)
        var shards = 1
        let cores = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        while shards < min(16, max(2, 2 * cores)) { shards *= 2 }
        self.shardCount = shards
        unsafe locks = UnsafeMutableRawPointer.allocate(byteCount: Self.stride * shards, alignment: 128)
        var attributes = pthread_rwlockattr_t()
        unsafe pthread_rwlockattr_init(&attributes)
        #if canImport(Glibc)
        unsafe pthread_rwlockattr_setkind_np(&attributes, Int32(PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP))
        #endif
        for i in 0..<shards {
            let lock = unsafe (locks + i * Self.stride).bindMemory(to: pthread_rwlock_t.self, capacity: 1)
            let result = unsafe pthread_rwlock_init(lock, &attributes)
            precondition(result == 0, "pthread_rwlock_init failed: \(result)")
        }
        unsafe pthread_rwlockattr_destroy(&attributes)
    }

    deinit {
        _ = pthread_key_delete(depthKey)
        for i in 0..<shardCount { unsafe pthread_rwlock_destroy(lock(i)) }
        unsafe locks.deallocate()
        unsafe value.deinitialize(count: 1)
        unsafe value.deallocate()
    }

    @inline(__always)
    private func lock(_ i: Int) -> UnsafeMutablePointer<pthread_rwlock_t> {
        unsafe (locks + i * Self.stride).assumingMemoryBound(to: pthread_rwlock_t.self)
    }

    /// Runs `body` with shared access (one `pthread_rwlock_rdlock` on this thread's shard).
    @inline(__always)
    package func withReadLock<R, E: Error>(_ body: (borrowing Value) throws(E) -> R) throws(E) -> R {
        let depth = unsafe Int(bitPattern: pthread_getspecific(depthKey))
        if depth > 0 {
            // Already held for reading by this thread: nest without locking.
            unsafe pthread_setspecific(depthKey, UnsafeRawPointer(bitPattern: depth + 1))
            defer { unsafe pthread_setspecific(depthKey, UnsafeRawPointer(bitPattern: depth)) }
            return try unsafe body(value.pointee)
        }
        let shard = unsafe lock(ReaderSlot.current & (shardCount - 1))
        unsafe pthread_rwlock_rdlock(shard)
        unsafe pthread_setspecific(depthKey, UnsafeRawPointer(bitPattern: 1))
        defer {
            pthread_setspecific(depthKey, nil)
            unsafe pthread_rwlock_unlock(shard)
        }
        return try unsafe body(value.pointee)
    }

    /// Whether the calling thread holds this lock for reading (inside ``withReadLock(_:)``).
    package var isReadHeldByCurrentThread: Bool {
        unsafe pthread_getspecific(depthKey) != nil
    }

    /// Runs `body` with exclusive access (`pthread_rwlock_wrlock` on every shard, in order).
    @inline(__always)
    package func withWriteLock<R, E: Error>(_ body: (inout Value) throws(E) -> R) throws(E) -> R {
        for i in 0..<shardCount { unsafe pthread_rwlock_wrlock(lock(i)) }
        defer { for i in (0..<shardCount).reversed() { unsafe pthread_rwlock_unlock(lock(i)) } }
        return try unsafe body(&value.pointee)
    }
}

/// A small number per thread, handed out in order of first use (`pthread_getspecific`), so
/// threads spread evenly over shards.
enum ReaderSlot {
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        let result = unsafe pthread_key_create(&key, nil)
        precondition(result == 0, "pthread_key_create failed: \(result)")
        return key
    }()
    private static let next = Atomic<Int>(0)

    @inline(__always)
    static var current: Int {
        if let stored = unsafe pthread_getspecific(key) { return Int(bitPattern: stored) - 1 }
        let slot = next.wrappingAdd(1, ordering: .relaxed).oldValue & 0xFFFF
        unsafe pthread_setspecific(key, UnsafeRawPointer(bitPattern: slot + 1))
        return slot
    }
}
