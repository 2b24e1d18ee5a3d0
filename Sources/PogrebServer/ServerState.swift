import Dispatch
import NIOCore
import Pogreb
import Synchronization

/// Counters every connection adds to, for INFO. Relaxed atomics: each is read alone.
final class ServerCounters: Sendable {
    let connectionsNow = Atomic<Int>(0)
    let connectionsTotal = Atomic<Int>(0)
    let connectionsRejected = Atomic<Int>(0)
    let commands = Atomic<Int>(0)
    let protocolErrors = Atomic<Int>(0)
    /// SCAN and FLUSHDB commands run off the event loops.
    let walksOffTheEventLoop = Atomic<Int>(0)
}

/// What every connection of one server shares: the database, the configuration, the counters
/// and the group commit of ``ServerSyncMode/always``.
final class ServerShared: Sendable {
    let database: Database
    let configuration: ServerConfiguration
    let counters = ServerCounters()
    /// Present only under ``ServerSyncMode/always``.
    let groupCommit: GroupCommit?
    /// Monotonic seconds at start, for INFO's uptime.
    let started: Double
    /// The port actually bound (the configured one may be 0), for INFO.
    let port = Atomic<Int>(0)
    /// Runs the commands that walk the whole log (``CommandProcessor/walksTheLog(_:)``), so that
    /// the other connections of an event loop are not held up meanwhile.
    let slowWork = DispatchQueue(label: "pogreb.serve.slow-commands", attributes: .concurrent)
    /// The commands running on ``slowWork``: shutdown waits for them before the database closes.
    let slowWorkRunning = DispatchGroup()
    /// Whether SCAN and FLUSHDB run on ``slowWork``; the tests that drive a connection through
    /// NIO's single-threaded embedded channel run them inline (`false`).
    let walksOffTheEventLoop: Bool

    init(database: Database, configuration: ServerConfiguration, walksOffTheEventLoop: Bool = true) {
        self.database = database
        self.configuration = configuration
        self.walksOffTheEventLoop = walksOffTheEventLoop
        self.groupCommit = configuration.sync == .always ? GroupCommit(database: database) : nil
        self.started = monotonicSeconds()
    }
}

/// Seconds on a monotonic clock, for INFO's uptime.
func monotonicSeconds() -> Double { Double(NIODeadline.now().uptimeNanoseconds) / 1e9 }
