#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// A reader-writer lock around a value: any number of readers at once, or one writer.
///
/// Readers spread over several `pthread_rwlock_t`s, one per shard, each on its own cache lines;
/// a thread always uses the same shard (``ReaderThread/slot``), so two reader threads usually
/// touch different lines and do not slow each other down. A writer takes every shard, in order.
/// On Linux each lock prefers writers, so a steady stream of readers cannot starve the writer.
/// The locks live in one heap allocation that never moves (a pthread lock must not move).
///
/// A read nested inside another read of the same lock on the same thread does not lock again
/// (with writer preference, a second `rdlock` behind a waiting writer would wait for ever): the
/// calling thread's ``ReaderThread`` record lists the locks it holds. That record is per thread,
/// not per lock, so any number of locks may exist (a `pthread_key_t` per lock would run out at
/// `PTHREAD_KEYS_MAX`, 1 024 on Linux).
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

    package init(_ value: Value) {
        unsafe self.value = UnsafeMutablePointer<Value>.allocate(capacity: 1)
        unsafe self.value.initialize(to: value)
        var shards = 1
        let cores = SystemCalls.processorCount
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
        for i in 0..<shardCount { unsafe pthread_rwlock_destroy(lock(i)) }
        unsafe locks.deallocate()
        unsafe value.deinitialize(count: 1)
        unsafe value.deallocate()
    }

    @inline(__always)
    private func lock(_ i: Int) -> UnsafeMutablePointer<pthread_rwlock_t> {
        unsafe (locks + i * Self.stride).assumingMemoryBound(to: pthread_rwlock_t.self)
    }

    /// This lock's identity in a thread's list of held locks.
    @inline(__always)
    private var identity: UnsafeRawPointer { unsafe UnsafeRawPointer(locks) }

    /// Runs `body` with shared access to the value through a pointer (one `pthread_rwlock_rdlock`
    /// on this thread's shard, none when this thread already holds this lock for reading). The
    /// pointer is valid only during `body`; reading through it copies nothing, which is why the
    /// read path uses this form.
    @inline(__always)
    package func withReadAccess<R, E: Error>(
        _ body: (UnsafePointer<Value>) throws(E) -> R
    ) throws(E) -> R {
        let thread = unsafe ReaderThread.current
        if unsafe thread.pointee.holds(identity) {
            return try unsafe body(UnsafePointer(value))
        }
        let shard = unsafe lock(thread.pointee.slot & (shardCount - 1))
        if unsafe pthread_rwlock_tryrdlock(shard) != 0 { unsafe Self.readLockContended(shard) }
        unsafe thread.pointee.push(identity)
        defer {
            unsafe thread.pointee.pop(identity)
            unsafe pthread_rwlock_unlock(shard)
        }
        return try unsafe body(UnsafePointer(value))
    }

    /// How many times a contended acquire retries before it sleeps in the kernel. A writer holds
    /// the lock for about a microsecond (the in-memory part of a put); sleeping on the futex and
    /// being woken costs several, and on every contended acquire it made two threads that mix
    /// reads and writes slower than one (YCSB-A).
    private static var spins: Int { 2000 }

    /// Takes `shard` for reading after a failed `tryrdlock`: retries for a bounded number of
    /// times (a writer's hold is short), then waits in `pthread_rwlock_rdlock`.
    @inline(never)
    private static func readLockContended(_ shard: UnsafeMutablePointer<pthread_rwlock_t>) {
        for _ in 0..<spins where unsafe pthread_rwlock_tryrdlock(shard) == 0 { return }
        unsafe pthread_rwlock_rdlock(shard)
    }

    /// Takes `shard` for writing: `trywrlock`, retried a bounded number of times, then
    /// `pthread_rwlock_wrlock`.
    @inline(__always)
    private static func writeLock(_ shard: UnsafeMutablePointer<pthread_rwlock_t>) {
        if unsafe pthread_rwlock_trywrlock(shard) == 0 { return }
        for _ in 0..<spins where unsafe pthread_rwlock_trywrlock(shard) == 0 { return }
        unsafe pthread_rwlock_wrlock(shard)
    }

    /// Runs `body` with shared access (see ``withReadAccess(_:)``).
    @inline(__always)
    package func withReadLock<R, E: Error>(_ body: (borrowing Value) throws(E) -> R) throws(E) -> R {
        try unsafe withReadAccess { (value) throws(E) -> R in try unsafe body(value.pointee) }
    }

    /// Whether the calling thread holds this lock for reading (inside ``withReadLock(_:)``).
    package var isReadHeldByCurrentThread: Bool {
        unsafe ReaderThread.current.pointee.holds(identity)
    }

    /// Runs `body` with exclusive access through a pointer (`pthread_rwlock_wrlock` on every
    /// shard, in order). The pointer is valid only during `body`; the writer's hot path uses this
    /// form so that reading the value through helpers copies nothing.
    @inline(__always)
    package func withWriteAccess<R, E: Error>(_ body: (UnsafeMutablePointer<Value>) throws(E) -> R) throws(E) -> R {
        for i in 0..<shardCount { unsafe Self.writeLock(lock(i)) }
        defer { for i in (0..<shardCount).reversed() { unsafe pthread_rwlock_unlock(lock(i)) } }
        return try unsafe body(value)
    }

    /// Runs `body` with exclusive access (`pthread_rwlock_wrlock` on every shard, in order).
    @inline(__always)
    package func withWriteLock<R, E: Error>(_ body: (inout Value) throws(E) -> R) throws(E) -> R {
        for i in 0..<shardCount { unsafe Self.writeLock(lock(i)) }
        defer { for i in (0..<shardCount).reversed() { unsafe pthread_rwlock_unlock(lock(i)) } }
        return try unsafe body(&value.pointee)
    }
}

/// What the read path keeps per thread, found with one `pthread_getspecific` of one process-wide
/// key: the thread's slot (a small number handed out in order of first use, so threads spread
/// evenly over lock and counter shards) and the ``ReadWriteLock``s it holds for reading. The
/// record is allocated at the thread's first read and freed by the key's destructor when the
/// thread exits.
@safe struct ReaderThread {
    let slot: Int
    /// The identities of the locks held, in the order taken; `count` of `capacity` are used.
    private var held: UnsafeMutablePointer<UnsafeRawPointer>
    private var count = 0
    private var capacity = 4

    private init(slot: Int) {
        self.slot = slot
        unsafe held = UnsafeMutablePointer<UnsafeRawPointer>.allocate(capacity: 4)
    }

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        let result = unsafe pthread_key_create(&key, ReaderThread.destroy)
        precondition(result == 0, "pthread_key_create failed: \(result)")
        return key
    }()
    private static let next = Atomic<Int>(0)

    #if canImport(Darwin)
    private static let destroy: @convention(c) (UnsafeMutableRawPointer) -> Void = { raw in
        unsafe ReaderThread.free(raw)
    }
    #else
    private static let destroy: @convention(c) (UnsafeMutableRawPointer?) -> Void = { raw in
        guard let raw = unsafe raw else { return }
        unsafe ReaderThread.free(raw)
    }
    #endif

    private static func free(_ raw: UnsafeMutableRawPointer) {
        let record = unsafe raw.assumingMemoryBound(to: ReaderThread.self)
        unsafe record.pointee.held.deallocate()
        unsafe record.deinitialize(count: 1)
        unsafe record.deallocate()
    }

    /// The calling thread's record (created on first use).
    @inline(__always)
    static var current: UnsafeMutablePointer<ReaderThread> {
        if let stored = unsafe pthread_getspecific(key) {
            return unsafe stored.assumingMemoryBound(to: ReaderThread.self)
        }
        return unsafe make()
    }

    @inline(never)
    private static func make() -> UnsafeMutablePointer<ReaderThread> {
        let slot = next.wrappingAdd(1, ordering: .relaxed).oldValue & 0xFFFF
        let record = UnsafeMutablePointer<ReaderThread>.allocate(capacity: 1)
        unsafe record.initialize(to: ReaderThread(slot: slot))
        unsafe pthread_setspecific(key, record)
        return unsafe record
    }

    /// Whether `lock` is among the held locks (a scan of, in practice, zero or one entry).
    @inline(__always)
    func holds(_ lock: UnsafeRawPointer) -> Bool {
        var i = 0
        while i < count {
            if unsafe held[i] == lock { return true }
            i += 1
        }
        return false
    }

    @inline(__always)
    mutating func push(_ lock: UnsafeRawPointer) {
        if count == capacity { grow() }
        unsafe held[count] = lock
        count += 1
    }

    @inline(never)
    private mutating func grow() {
        let larger = UnsafeMutablePointer<UnsafeRawPointer>.allocate(capacity: capacity * 2)
        unsafe larger.update(from: held, count: count)
        unsafe held.deallocate()
        unsafe held = larger
        capacity *= 2
    }

    /// Removes `lock`, the most recently pushed in practice (reads nest).
    @inline(__always)
    mutating func pop(_ lock: UnsafeRawPointer) {
        var i = count - 1
        while i >= 0 {
            if unsafe held[i] == lock {
                while i + 1 < count {
                    unsafe held[i] = held[i + 1]
                    i += 1
                }
                count -= 1
                return
            }
            i -= 1
        }
    }
}
