import Dispatch
import NIOCore
import NIOPosix
import Pogreb
import Synchronization

/// A Redis-protocol (RESP2) server over one open ``Pogreb/Database``: what `pogreb serve` runs.
///
/// The caller opens the database (``ServerConfiguration/databaseOptions(_:)`` gives the options
/// that fit the configuration), starts the server, and after ``shutdown()`` closes the database.
/// Commands run on the event loops (reads and buffered writes do not wait for storage, except on
/// a page fault of a mapped segment or when the write buffer is written out); the syncs of
/// ``ServerSyncMode/always`` run on a queue of their own.
public final class RESPServer: Sendable {
    let shared: ServerShared
    private let group: MultiThreadedEventLoopGroup
    private let listener: any Channel
    private let connections: ConnectionRegistry

    /// The TCP port the server listens on.
    public var port: Int { shared.port.load(ordering: .relaxed) }

    /// Binds `configuration.host`:`configuration.port` and starts serving `database`.
    /// - Throws: what binding throws (address in use, bad address).
    public init(database: Database, configuration: ServerConfiguration) throws {
        let shared = ServerShared(database: database, configuration: configuration)
        let threads = configuration.threads > 0 ? configuration.threads : System.coreCount
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let connections = ConnectionRegistry()
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                Self.accept(channel, shared: shared, connections: connections)
            }
        let bound = bootstrap.bind(host: configuration.host, port: configuration.port)
        do {
            listener = try bound.wait()
        } catch {
            try? group.syncShutdownGracefully()
            throw error
        }
        shared.port.store(listener.localAddress?.port ?? configuration.port, ordering: .relaxed)
        self.shared = shared
        self.group = group
        self.connections = connections
    }

    /// Sets up one accepted connection: counted against the cap, registered for shutdown, given
    /// the idle timeout and the protocol handler.
    private static func accept(
        _ channel: any Channel, shared: ServerShared, connections: ConnectionRegistry
    ) -> EventLoopFuture<Void> {
        let counters = shared.counters
        let now = counters.connectionsNow.wrappingAdd(1, ordering: .relaxed).newValue
        counters.connectionsTotal.add(1, ordering: .relaxed)
        let id = ObjectIdentifier(channel)
        connections.channels.withLock { $0[id] = channel }
        channel.closeFuture.whenComplete { _ in
            counters.connectionsNow.subtract(1, ordering: .relaxed)
            connections.channels.withLock { _ = $0.removeValue(forKey: id) }
        }
        let configuration = shared.configuration
        return channel.eventLoop.makeCompletedFuture {
            let pipeline = channel.pipeline.syncOperations
            if now > configuration.maxClients {
                counters.connectionsRejected.add(1, ordering: .relaxed)
                try pipeline.addHandler(RejectConnection())
                return
            }
            if configuration.idleTimeoutSeconds > 0 {
                try pipeline.addHandler(
                    IdleStateHandler(readTimeout: .seconds(Int64(configuration.idleTimeoutSeconds))))
            }
            try pipeline.addHandler(RESPConnection(shared: shared))
        }
    }

    /// Stops accepting, closes every connection (replies in flight may be lost; a write already
    /// applied stays applied), waits for a running group sync and for any SCAN or FLUSHDB still
    /// walking the log, and stops the event loops. The database stays open: the caller closes it
    /// after this returns.
    public func shutdown() throws {
        try? listener.close().wait()
        let open = connections.channels.withLock { Array($0.values) }
        for channel in open { try? channel.close().wait() }
        shared.groupCommit?.waitIdle()
        shared.slowWorkRunning.wait()
        try group.syncShutdownGracefully()
    }
}

/// The open connections of a server, so that shutdown can close them.
final class ConnectionRegistry: Sendable {
    /// The channels by identity. Taken on accept, on close and by ``RESPServer/shutdown()``,
    /// never while calling into NIO.
    let channels = Mutex<[ObjectIdentifier: any Channel]>([:])
}
