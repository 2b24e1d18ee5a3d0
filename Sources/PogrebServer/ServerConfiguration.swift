import Pogreb

/// When the server makes writes durable (`pogreb serve --sync`).
public enum ServerSyncMode: String, Sendable, CaseIterable {
    /// A write command answers only once its write is on stable storage. The connections'
    /// writes waiting at one moment share one `fdatasync` (group commit), run off the event loops.
    case always
    /// A background thread syncs every ``ServerConfiguration/syncIntervalMilliseconds`` (like
    /// Redis' `appendfsync everysec`): a crash loses at most about that much.
    case interval
    /// Only checkpoints and the clean shutdown sync; a crash of the machine may lose any write
    /// since the last of those (a crash of the server process alone loses the write buffer).
    case never
}

/// How `pogreb serve` runs: where it listens, whom it lets in and what it allows.
public struct ServerConfiguration: Sendable {
    /// The address to listen on. Default: `127.0.0.1` (this machine only).
    public var host: String = "127.0.0.1"
    /// The TCP port; 0 picks a free one (``RESPServer/port`` tells which). Default: 6380.
    public var port: Int = 6380
    /// The password `AUTH` must give before any other command is served; `nil`: no password.
    public var password: String?
    /// Refuse every write command with `-READONLY` and open the database read-only (other
    /// read-only processes may open it too). Default: `false`.
    public var readOnly: Bool = false
    /// When writes become durable. Default: ``ServerSyncMode/interval``.
    public var sync: ServerSyncMode = .interval
    /// The period of ``ServerSyncMode/interval``. Default: 1000 ms.
    public var syncIntervalMilliseconds: Int = 1000
    /// Close a connection that sends nothing for this many seconds; 0: never. Default: 300.
    public var idleTimeoutSeconds: Int = 300
    /// The most connections served at once; one more gets `-ERR max number of clients reached`
    /// and is closed. Default: 1024.
    public var maxClients: Int = 1024
    /// Allow `FLUSHDB`, which deletes every key. Default: `false` (it answers an error).
    public var allowFlush: Bool = false
    /// The bounds every request is checked against before anything is allocated for it.
    public var limits = RESPLimits()
    /// Event-loop threads; 0: one per core. Default: 0.
    public var threads: Int = 0

    /// The defaults above.
    public init() {}

    /// The engine options this configuration opens the database with: read-only for a read-only
    /// server; the engine's own interval sync for ``ServerSyncMode/interval``; for
    /// ``ServerSyncMode/always`` the server groups the syncs itself (``GroupCommit``), so the
    /// engine is left at `.never` and no event loop blocks in `fsync`.
    public func databaseOptions(_ base: Options = Options()) -> Options {
        var options = base
        options.readOnly = readOnly
        switch sync {
        case .always, .never: options.syncPolicy = .never
        case .interval: options.syncPolicy = .interval(milliseconds: syncIntervalMilliseconds)
        }
        return options
    }
}
