import Dispatch
import Synchronization

/// Timers for the interval sync policy and background compaction, on a private serial queue.
final class BackgroundWork: Sendable {
    private let queue: DispatchQueue
    static let key = DispatchSpecificKey<Bool>()

    init() {
        queue = DispatchQueue(label: "pogreb.background")
        queue.setSpecific(key: BackgroundWork.key, value: true)
    }
    private let timers = Lock<[TimerBox]>([])  // protects the list of running timers

    /// @unchecked Sendable: a dispatch source is thread-safe to cancel; it is only resumed once,
    /// by `schedule`, before it is shared.
    final class TimerBox: @unchecked Sendable {
        let timer: any DispatchSourceTimer
        init(_ timer: any DispatchSourceTimer) { self.timer = timer }
    }

    func schedule(everyMilliseconds interval: Int, _ work: @escaping @Sendable () -> Void) {
        let timer = DispatchSource.makeTimerSource(queue: queue)
        timer.schedule(deadline: .now() + .milliseconds(interval), repeating: .milliseconds(interval))
        timer.setEventHandler(handler: work)
        let box = TimerBox(timer)
        timers.withLock { $0.append(box) }
        timer.resume()
    }

    /// Cancels every timer and, when `wait` is set, waits for a running task to finish.
    /// Never waits when called from the background queue itself.
    func stop(wait: Bool = true) {
        let running = timers.withLock { timers in
            defer { timers.removeAll() }
            return timers
        }
        for box in running { box.timer.cancel() }
        if wait && !running.isEmpty && DispatchQueue.getSpecific(key: BackgroundWork.key) == nil { queue.sync {} }
    }
}

extension Database {
    func startBackgroundWork() {
        guard !isReadOnly else { return }
        if case .interval(let milliseconds) = options.syncPolicy {
            background.schedule(everyMilliseconds: max(1, milliseconds)) { [weak self] in
                // Only when something was written since the last sync: an idle database costs
                // no fdatasync (`sync()` itself always syncs).
                guard let self else { return }
                try? self.makeDurable(upTo: self.writer.withLock { $0.appended })
            }
        }
        if let milliseconds = options.metricsIntervalMilliseconds {
            background.schedule(everyMilliseconds: max(1, milliseconds)) { [weak self] in
                try? self?.reportMetrics()
            }
        }
        if let milliseconds = options.compactionIntervalMilliseconds {
            background.schedule(everyMilliseconds: max(1, milliseconds)) { [weak self] in
                _ = try? self?.compact()
            }
        }
    }
}
