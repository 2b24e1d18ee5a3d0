import Logging
import Metrics

extension Database {
    /// Logs through ``Options/logger`` when one is set.
    func log(_ level: Logger.Level, _ message: @autoclosure () -> String, metadata: Logger.Metadata = [:]) {
        guard var logger = options.logger else { return }
        logger[metadataKey: "pogreb.path"] = .string(fileSystem.displayPath)
        logger.log(level: level, "\(message())", metadata: metadata)
    }

    /// Records the current ``statistics`` with swift-metrics: gauges named `pogreb_keys`,
    /// `pogreb_log_bytes`, `pogreb_dead_bytes`, `pogreb_dirty_buckets`, `pogreb_index_load`,
    /// `pogreb_gets`, `pogreb_hits`, `pogreb_puts`, `pogreb_deletes`, `pogreb_collisions`,
    /// `pogreb_checkpoints`, `pogreb_compactions`, `pogreb_records_replayed_at_open`, each with
    /// the dimension `path`. Cheap: it reads counters, no file.
    public func reportMetrics() throws(PogrebError) {
        let stats = try statistics
        let dimensions = [("path", fileSystem.displayPath)]
        let values: [(String, Double)] = [
            ("pogreb_keys", Double(stats.keyCount)),
            ("pogreb_log_bytes", Double(stats.logBytes)),
            ("pogreb_dead_bytes", Double(stats.deadBytes)),
            ("pogreb_dirty_buckets", Double(stats.dirtyBuckets)),
            ("pogreb_index_load", stats.indexLoad),
            ("pogreb_gets", Double(stats.gets)),
            ("pogreb_hits", Double(stats.hits)),
            ("pogreb_puts", Double(stats.puts)),
            ("pogreb_deletes", Double(stats.deletes)),
            ("pogreb_collisions", Double(stats.collisions)),
            ("pogreb_checkpoints", Double(stats.checkpoints)),
            ("pogreb_compactions", Double(stats.compactions)),
            ("pogreb_records_replayed_at_open", Double(stats.recordsReplayedAtOpen)),
        ]
        for (label, value) in values {
            Gauge(label: label, dimensions: dimensions).record(value)
        }
    }
}
