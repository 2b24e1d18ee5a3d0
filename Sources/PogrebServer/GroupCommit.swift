import Dispatch
import NIOCore
import Pogreb
import Synchronization

/// Makes the writes of many connections durable with as few `sync()` calls as possible, on a
/// queue of its own so that no event loop waits in `fdatasync`.
///
/// A connection applies its writes (they reach the engine's buffer and index at once), then asks
/// ``waitDurable(on:)`` for a future. The first request starts a sync on the queue; requests
/// arriving while it runs are collected and covered together by the next one. Every write applied
/// before its request was queued is therefore covered by the sync that completes its future.
final class GroupCommit: Sendable {
    private struct State {
        /// The connections waiting for the next sync to start.
        var waiting: [EventLoopPromise<Void>] = []
        /// Whether the queue is running syncs now (it drains `waiting` until it is empty).
        var running = false
    }

    let database: Database
    /// The waiting connections and whether a sync runs: taken briefly by event loops (to queue)
    /// and by the sync queue (to take a group); never held during a sync.
    private let state = Mutex(State())
    private let queue = DispatchQueue(label: "pogreb.serve.group-commit")
    /// `sync()` calls made, for INFO.
    let syncs = Atomic<Int>(0)
    /// Requests those syncs covered, for INFO (their ratio is the group size).
    let covered = Atomic<Int>(0)

    init(database: Database) { self.database = database }

    /// A future that succeeds once every write this caller applied before the call is durable,
    /// or fails with the sync's error.
    func waitDurable(on eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        let start = state.withLock { state in
            state.waiting.append(promise)
            if state.running { return false }
            state.running = true
            return true
        }
        if start { queue.async { self.drain() } }
        return promise.futureResult
    }

    /// Returns once no sync runs or waits to run (call it when no connection can queue more).
    func waitIdle() {
        queue.sync {}
    }

    /// Syncs until nobody waits: each round takes every waiting request, calls `sync()` once
    /// (one `fdatasync`, see ``Pogreb/Database/sync()``) and completes them all.
    private func drain() {
        while true {
            let group: [EventLoopPromise<Void>] = state.withLock { state in
                if state.waiting.isEmpty {
                    state.running = false
                    return []
                }
                defer { state.waiting = [] }
                return state.waiting
            }
            if group.isEmpty { return }
            do {
                try database.sync()
                syncs.add(1, ordering: .relaxed)
                covered.add(group.count, ordering: .relaxed)
                for promise in group { promise.succeed() }
            } catch {
                for promise in group { promise.fail(error) }
            }
        }
    }
}
