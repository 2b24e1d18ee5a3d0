import ArgumentParser
import Glibc
import Pogreb
import PogrebServer

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the database over the Redis protocol (RESP2), for redis-cli and any Redis client.",
        discussion: """
            Commands: GET SET(NX XX GET) SETNX GETSET DEL EXISTS MGET MSET STRLEN DBSIZE SCAN(MATCH COUNT) \
            PING ECHO INFO COMMAND AUTH SELECT 0 QUIT, and FLUSHDB with --enable-flushdb. No expiry, no data \
            types but strings. docs/SERVER.md has the details and sharding over twemproxy.

            Prints `pogreb serve: listening on HOST:PORT` once it accepts connections. SIGTERM or \
            Ctrl-C stops accepting, closes the connections and closes the database cleanly (exit 0).
            """)

    @Argument(help: "The database directory (created when missing, unless --readonly).") var path: String
    @Option(help: "TCP port; 0 picks a free one.") var port = 6380
    @Option(help: "Address to listen on.") var bind = "127.0.0.1"
    @Option(help: "Password AUTH must give first.") var requirepass: String?
    @Flag(help: "Refuse every write; open the database read-only.") var readonly = false
    @Option(help: "When writes are durable: always (answer after the fsync, group commit), interval, never.")
    var sync = "interval"
    @Option(help: "The period of --sync interval, in milliseconds.") var syncInterval = 1000
    @Option(help: "Close connections idle for this many seconds (0: never).") var timeout = 300
    @Option(help: "Most connections at once.") var maxclients = 1024
    @Flag(help: "Allow FLUSHDB (deletes every key).") var enableFlushdb = false
    @Option(help: "Event-loop threads (0: one per core).") var threads = 0

    func run() throws {
        guard let mode = ServerSyncMode(rawValue: sync) else {
            throw ToolError(.usage, "--sync takes always, interval or never, not \(sync)")
        }
        guard (0...65535).contains(port) else { throw ToolError(.usage, "--port must be 0 to 65535") }
        guard maxclients >= 1, timeout >= 0, threads >= 0, syncInterval >= 1 else {
            throw ToolError(
                .usage, "--maxclients and --sync-interval must be positive, --timeout and --threads not negative")
        }
        var configuration = ServerConfiguration()
        configuration.host = bind
        configuration.port = port
        configuration.password = requirepass
        configuration.readOnly = readonly
        configuration.sync = mode
        configuration.syncIntervalMilliseconds = syncInterval
        configuration.idleTimeoutSeconds = timeout
        configuration.maxClients = maxclients
        configuration.allowFlush = enableFlushdb
        configuration.threads = threads

        // SIGTERM and SIGINT are blocked before any thread starts (the event loops inherit the
        // mask) and taken by sigwait below: no handler runs on an arbitrary thread.
        var stopSignals = sigset_t()
        sigemptyset(&stopSignals)
        sigaddset(&stopSignals, SIGTERM)
        sigaddset(&stopSignals, SIGINT)
        pthread_sigmask(SIG_BLOCK, &stopSignals, nil)

        let database = try openDatabase(
            path, readonly ? .read : .write(create: true),
            configure: { options in options = configuration.databaseOptions(options) })
        let server: RESPServer
        do {
            server = try RESPServer(database: database, configuration: configuration)
        } catch {
            try? database.close()
            throw ToolError(.io, "cannot listen on \(bind):\(port): \(error)")
        }
        let console = Console.current
        console.out.write(
            "pogreb serve: listening on \(bind):\(server.port), database \(path), sync \(mode.rawValue)\n")
        try console.out.flush()

        var received: Int32 = 0
        while sigwait(&stopSignals, &received) != 0 {}
        console.note("pogreb serve: signal \(received), shutting down")
        try? server.shutdown()
        try engine("closing \(path)") { () throws(PogrebError) in try database.close() }
        console.out.write("pogreb serve: database closed\n")
    }
}
