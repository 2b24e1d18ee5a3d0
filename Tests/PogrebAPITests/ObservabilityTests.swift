import Logging
import Metrics
import MetricsTestKit
import PogrebTestSupport
import Synchronization
import Testing

@testable import Pogreb

/// Metrics through swift-metrics and logs through swift-log.
@Suite struct ObservabilityTests {
    /// `reportMetrics()` records one gauge per figure, labelled by path, through the metrics
    /// factory in force. The factory is bound to this test's task (`withMetricsFactory`), so no
    /// global bootstrap is needed and parallel tests do not see each other's metrics.
    @Test func reportsGaugesThroughSwiftMetrics() throws {
        let metrics = TestMetrics()
        try withDatabase(.memory) { db, _ in
            for i in 0..<10 { try db.put(workloadKey(i), workloadValue(i)) }
            _ = try db.get(workloadKey(1))
            _ = try db.get(workloadKey(99))
            try db.delete(workloadKey(2))
            let statistics = try db.statistics
            try withMetricsFactory(metrics) { () throws(PogrebError) in try db.reportMetrics() }

            let dimensions = [("path", "memory:/db")]
            func gauge(_ label: String) throws -> Double? { try metrics.expectGauge(label, dimensions).lastValue }
            #expect(try gauge("pogreb_keys") == 9)
            #expect(try gauge("pogreb_gets") == 2)
            #expect(try gauge("pogreb_hits") == 1)
            #expect(try gauge("pogreb_puts") == 10)
            #expect(try gauge("pogreb_deletes") == 1)
            #expect(try gauge("pogreb_log_bytes") == Double(statistics.logBytes))
            #expect(try gauge("pogreb_dead_bytes") == Double(statistics.deadBytes))
            #expect(try gauge("pogreb_index_load") == statistics.indexLoad)
            for label in [
                "pogreb_dirty_buckets", "pogreb_collisions", "pogreb_checkpoints", "pogreb_compactions",
                "pogreb_records_replayed_at_open",
            ] {
                #expect(try gauge(label) != nil, "\(label)")
            }
        }
    }

    /// Collects every log message, for the tests.
    final class CapturedLogs: Sendable {
        struct Entry: Sendable {
            var level: Logger.Level
            var message: String
            var metadata: Logger.Metadata
        }
        let entries = Mutex<[Entry]>([])  // protects the list
        var all: [Entry] { entries.withLock { $0 } }
        var messages: [String] { all.map(\.message) }

        func logger(level: Logger.Level = .trace) -> Logger {
            var logger = Logger(label: "pogreb-test") { _ in Handler(sink: self) }
            logger.logLevel = level
            return logger
        }

        struct Handler: LogHandler {
            let sink: CapturedLogs
            var metadata: Logger.Metadata = [:]
            var logLevel: Logger.Level = .trace
            subscript(metadataKey key: String) -> Logger.Metadata.Value? {
                get { metadata[key] }
                set { metadata[key] = newValue }
            }
            func log(event: LogEvent) {
                var merged = metadata
                if let extra = event.metadata { merged.merge(extra) { $1 } }
                sink.entries.withLock {
                    $0.append(Entry(level: event.level, message: "\(event.message)", metadata: merged))
                }
            }
        }
    }

    @Test func logsThroughTheGivenLogger() throws {
        let logs = CapturedLogs()
        try withTestDatabase(.memory, configure: { $0.logger = logs.logger() }) { t in
            let db = try t.open()
            for i in 0..<10 { try db.put(workloadKey(i), workloadValue(i)) }
            try db.checkpoint()
            try db.close()
        }
        let opened = logs.all.filter { $0.message == "opened" }
        #expect(opened.count == 1, "messages: \(logs.messages)")
        #expect(opened.first?.level == .info)
        #expect(opened.first?.metadata["pogreb.path"] == .string("memory:/db"))
    }

    @Test func aLoggerAtErrorLevelHearsNothingOfANormalRun() throws {
        let logs = CapturedLogs()
        try withTestDatabase(.memory, configure: { $0.logger = logs.logger(level: .error) }) { t in
            let db = try t.open()
            try db.put(bytes("k"), bytes("v"))
            try db.close()
        }
        #expect(logs.all.isEmpty, "messages: \(logs.messages)")
    }

    /// Without a logger nothing is logged. The library never makes a `Logger` of its own (it
    /// logs only through `Options.logger`), so there is no other handler it could reach; this
    /// test checks the default and that a full run works without one. (A global
    /// `LoggingSystem.bootstrap` to catch stray logs is avoided: it may run once per process,
    /// and every test target shares this one.)
    @Test func silentByDefault() throws {
        #expect(Options().logger == nil)
        let logs = CapturedLogs()
        try withTestDatabase(.memory) { t in
            let db = try t.open()
            try db.put(bytes("k"), bytes("v"))
            try db.checkpoint()
            _ = try db.compact()
            try db.close()
            let again = try t.open()
            try again.close()
        }
        #expect(logs.all.isEmpty)
    }
}
