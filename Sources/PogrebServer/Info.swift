import Glibc
import Pogreb
import Synchronization

/// INFO's text: Redis' layout (`# Section` headers, `name:value` lines, CRLF line ends) filled
/// from the engine's ``Pogreb/Statistics`` and the server's counters. Fields Redis has and we
/// cannot know are left out rather than invented; `# Pogreb` holds the engine's own.
/// - Parameter sections: the sections asked for (lower case compared); empty, `all`, `default`
///   or `everything`: every section.
func info(_ shared: ServerShared, sections: [String]) throws -> String {
    let statistics = try shared.database.statistics
    let counters = shared.counters
    let wanted = Set(sections.map { $0.lowercased() })
    let all = wanted.isEmpty || !wanted.isDisjoint(with: ["all", "default", "everything"])
    var text = ""
    func section(_ name: String, _ lines: [(String, String)]) {
        guard all || wanted.contains(name.lowercased()) else { return }
        if !text.isEmpty { text += "\r\n" }
        text += "# \(name)\r\n"
        for (key, value) in lines { text += "\(key):\(value)\r\n" }
    }
    let configuration = shared.configuration
    section(
        "Server",
        [
            ("redis_version", "7.0.0"),
            ("pogreb_version", "0.1.0"),
            ("redis_mode", "standalone"),
            ("arch_bits", "\(Int.bitWidth)"),
            ("process_id", "\(getpid())"),
            ("tcp_port", "\(shared.port.load(ordering: .relaxed))"),
            ("uptime_in_seconds", "\(Int(monotonicSeconds() - shared.started))"),
        ])
    section(
        "Clients",
        [
            ("connected_clients", "\(counters.connectionsNow.load(ordering: .relaxed))"),
            ("maxclients", "\(configuration.maxClients)"),
        ])
    var persistence: [(String, String)] = [
        ("loading", "0"),
        ("pogreb_sync", configuration.sync.rawValue),
        ("pogreb_checkpoints", "\(statistics.checkpoints)"),
        ("pogreb_last_checkpoint_sequence", "\(statistics.lastCheckpoint)"),
        ("pogreb_records_replayed_at_open", "\(statistics.recordsReplayedAtOpen)"),
    ]
    if let group = shared.groupCommit {
        persistence.append(("pogreb_group_commit_syncs", "\(group.syncs.load(ordering: .relaxed))"))
        persistence.append(("pogreb_group_commit_writers", "\(group.covered.load(ordering: .relaxed))"))
    }
    section("Persistence", persistence)
    section(
        "Stats",
        [
            ("total_connections_received", "\(counters.connectionsTotal.load(ordering: .relaxed))"),
            ("total_commands_processed", "\(counters.commands.load(ordering: .relaxed))"),
            ("rejected_connections", "\(counters.connectionsRejected.load(ordering: .relaxed))"),
            ("total_error_replies_protocol", "\(counters.protocolErrors.load(ordering: .relaxed))"),
            ("keyspace_hits", "\(statistics.hits)"),
            ("keyspace_misses", "\(statistics.misses)"),
            ("expired_keys", "0"),
            ("evicted_keys", "0"),
        ])
    section(
        "Keyspace",
        statistics.keyCount > 0 ? [("db0", "keys=\(statistics.keyCount),expires=0,avg_ttl=0")] : [])
    section(
        "Pogreb",
        [
            ("format_version", "\(statistics.formatVersion)"),
            ("keys", "\(statistics.keyCount)"),
            ("gets", "\(statistics.gets)"),
            ("puts", "\(statistics.puts)"),
            ("deletes", "\(statistics.deletes)"),
            ("index_buckets", "\(statistics.bucketCount)"),
            ("index_overflow_buckets", "\(statistics.overflowBucketCount)"),
            ("index_load", String(format2: statistics.indexLoad)),
            ("index_dirty_buckets", "\(statistics.dirtyBuckets)"),
            ("hash_collisions", "\(statistics.collisions)"),
            ("segments", "\(statistics.segments.count)"),
            ("log_bytes", "\(statistics.logBytes)"),
            ("dead_bytes", "\(statistics.deadBytes)"),
            ("compactions", "\(statistics.compactions)"),
            ("bytes_reclaimed", "\(statistics.bytesReclaimed)"),
        ])
    return text
}

extension String {
    /// `value` with two decimals, without Foundation; `0.00` for what is not a finite number of
    /// reasonable size (the conversion to `Int` would trap).
    init(format2 value: Double) {
        guard value.isFinite, abs(value) < 1e15 else {
            self = "0.00"
            return
        }
        let hundredths = Int((value * 100).rounded())
        let fraction = abs(hundredths % 100)
        self = "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}
