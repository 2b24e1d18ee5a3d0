import Glibc
import Pogreb
import PogrebTestSupport
import PogrebWorkload
import Synchronization
import Testing

@testable import PogrebServer

/// Starts an in-process server on a free loopback port over a fresh database, runs `body`, then
/// shuts it down and closes the database.
private func withServer(
    _ path: String, configure: (inout ServerConfiguration) -> Void = { _ in },
    _ body: (RESPServer) throws -> Void
) throws {
    var configuration = ServerConfiguration()
    configuration.port = 0
    configuration.threads = 2
    configure(&configuration)
    let database = try Database.open(at: path, options: configuration.databaseOptions())
    let server = try RESPServer(database: database, configuration: configuration)
    defer {
        try? server.shutdown()
        try? database.close()
    }
    try body(server)
}

@Suite("Server over loopback", .serialized)
struct LoopbackTests {
    @Test("--sync always: every SET answers after a sync, and concurrent writers share syncs")
    func groupCommit() throws {
        try withTemporaryDirectory { path in
            try withServer(path + "/db", configure: { $0.sync = .always }) { server in
                let writers = 8
                let rounds = 50
                let failures = Atomic<Int>(0)
                let port = server.port
                var threads: [WorkloadThread] = []
                for w in 0..<writers {
                    threads.append(
                        startThread {
                            do {
                                let client = try TestClient(port: port)
                                for r in 0..<rounds where try client.call("SET", "w\(w):\(r)", "v") != .ok {
                                    failures.add(1, ordering: .relaxed)
                                }
                            } catch {
                                failures.add(1, ordering: .relaxed)
                            }
                        })
                }
                for thread in threads { joinThread(thread) }
                #expect(failures.load(ordering: .relaxed) == 0)
                let group = try #require(server.shared.groupCommit)
                let syncs = group.syncs.load(ordering: .relaxed)
                #expect(group.covered.load(ordering: .relaxed) == writers * rounds)
                #expect(syncs >= 1 && syncs <= writers * rounds)
                print("group commit: \(writers * rounds) writes, \(syncs) syncs")
                let client = try TestClient(port: port)
                #expect(try client.call("DBSIZE") == .integer(writers * rounds))
            }
        }
    }

    @Test("SCAN and FLUSHDB run off the event loop; the connection's replies stay in request order")
    func logWalksOffTheEventLoop() throws {
        try withTemporaryDirectory { path in
            try withServer(
                path + "/db",
                configure: {
                    $0.allowFlush = true
                    $0.threads = 1
                }
            ) { server in
                let client = try TestClient(port: server.port)
                let other = try TestClient(port: server.port)
                for i in 0..<2000 { #expect(try client.call("SET", "k\(i)", "v\(i)") == .ok) }
                // One write of pipelined requests around two walks of the log.
                try client.send(
                    request("SET", "x", "1") + request("SCAN", "0", "COUNT", "5000") + request("GET", "x")
                        + request("FLUSHDB") + request("DBSIZE") + request("SET", "y", "2"))
                // Another connection of the same event loop is served meanwhile.
                #expect(try other.call("PING") == .simple("PONG"))
                let replies = try client.receive(6)
                #expect(replies.count == 6)
                guard replies.count == 6 else { return }
                #expect(replies[0] == .ok)
                if case .array(let page?) = replies[1], page.count == 2, case .array(let keys?) = page[1] {
                    #expect(page[0] == .bulk(Array("0".utf8)))
                    #expect(keys.count == 2001)
                } else {
                    Issue.record(Comment(rawValue: "SCAN replied \(replies[1])"))
                }
                #expect(replies[2] == .text("1"))
                #expect(replies[3] == .ok)
                #expect(replies[4] == .integer(0))
                #expect(replies[5] == .ok)
                #expect(try client.call("DBSIZE") == .integer(1))
                #expect(server.shared.counters.walksOffTheEventLoop.load(ordering: .relaxed) == 2)
            }
        }
    }

    @Test("a connection beyond --maxclients gets Redis' error and is closed; the others go on")
    func connectionCap() throws {
        try withTemporaryDirectory { path in
            try withServer(path + "/db", configure: { $0.maxClients = 2 }) { server in
                let first = try TestClient(port: server.port)
                let second = try TestClient(port: server.port)
                #expect(try first.call("PING") == .simple("PONG"))
                #expect(try second.call("PING") == .simple("PONG"))
                let third = try TestClient(port: server.port)
                #expect(try third.receive(1) == [.error("ERR max number of clients reached")])
                #expect(third.isClosedByServer())
                #expect(try first.call("PING") == .simple("PONG"))
            }
        }
    }

    @Test("an idle connection is closed after the timeout")
    func idleTimeout() throws {
        try withTemporaryDirectory { path in
            try withServer(path + "/db", configure: { $0.idleTimeoutSeconds = 1 }) { server in
                let client = try TestClient(port: server.port)
                #expect(try client.call("PING") == .simple("PONG"))
                #expect(client.isClosedByServer())
            }
        }
    }

    @Test("a bulk length over the limit is refused on its header and the connection closed")
    func oversizedBulkRefused() throws {
        try withTemporaryDirectory { path in
            try withServer(path + "/db", configure: { $0.limits.maxBulkLength = 1024 }) { server in
                let client = try TestClient(port: server.port)
                try client.send(Array("*2\r\n$3\r\nGET\r\n$4096\r\n".utf8))
                #expect(try client.receive(1) == [.error("ERR Protocol error: invalid bulk length")])
                #expect(client.isClosedByServer())
            }
        }
    }
}

@Suite("pogreb serve with redis-cli and nutcracker", .serialized)
struct RedisToolsTests {
    @Test("redis-cli and redis-benchmark drive pogreb serve; SIGTERM closes the database cleanly")
    func redisCLI() throws {
        guard let cliPath = try redisTool("redis-cli", package: "redis-tools") else { return }
        try withTemporaryDirectory { path in
            let db = path + "/db"
            let server = try ServeProcess(db, ["--requirepass", "pw"])
            let base = ["-p", "\(server.port)", "-a", "pw", "--no-auth-warning"]
            func cli(_ words: [String], input: [UInt8] = []) throws -> String {
                let (status, output) = try run(cliPath, base + words, input: input)
                #expect(status == 0, "redis-cli \(words)")
                return String(decoding: output, as: UTF8.self)
            }
            #expect(try cli(["PING"]) == "PONG\n")
            #expect(try cli(["SET", "greeting", "hello"]) == "OK\n")
            #expect(try cli(["GET", "greeting"]) == "hello\n")
            // Binary-safe: -x takes the value from standard input, byte for byte.
            let binary: [UInt8] = Array(0...255) + [13, 10, 0]
            #expect(try cli(["-x", "SET", "bin"], input: binary) == "OK\n")
            let (_, raw) = try run(cliPath, base + ["GET", "bin"])
            #expect(Array(raw.dropLast()) == binary)
            for i in 0..<50 { _ = try cli(["SET", "scan:\(i)", "\(i)"]) }
            let scanned = try cli(["--scan", "--pattern", "scan:*"]).split(separator: "\n")
            #expect(Set(scanned.map(String.init)) == Set((0..<50).map { "scan:\($0)" }))
            #expect(try cli(["DBSIZE"]) == "52\n")
            #expect(try cli(["INFO", "keyspace"]).contains("db0:keys=52"))
            #expect(try cli(["GET"]).contains("wrong number of arguments"))
            if let bench = findProgram("redis-benchmark") {
                let (status, output) = try run(
                    bench, ["-p", "\(server.port)", "-a", "pw", "-t", "set,get", "-n", "2000", "-P", "8", "-q"])
                let text = String(decoding: output, as: UTF8.self)
                #expect(status == 0)
                #expect(text.contains("SET:") && text.contains("GET:"), "redis-benchmark printed: \(text)")
            }
            #expect(server.process.stop(SIGTERM) == 0)
            #expect(server.process.readRest().contains("database closed"))
            // A clean close: the next open replays nothing.
            let reopened = try Database.open(at: db)
            #expect(try reopened.statistics.recordsReplayedAtOpen == 0)
            #expect(try reopened.get("greeting") == Array("hello".utf8))
            #expect(try reopened.get("bin") == binary)
            try reopened.close()
        }
    }

    @Test("two servers behind nutcracker (ketama): keys spread over both, every GET returns what SET stored")
    func sharding() throws {
        guard let nutcracker = try redisTool("nutcracker", package: "nutcracker") else { return }
        try withTemporaryDirectory { path in
            let shards = [try ServeProcess(path + "/a"), try ServeProcess(path + "/b")]
            let proxyPort = try freePort()
            let configuration = """
                pogreb:
                  listen: 127.0.0.1:\(proxyPort)
                  hash: fnv1a_64
                  distribution: ketama
                  redis: true
                  auto_eject_hosts: false
                  timeout: 5000
                  servers:
                   - 127.0.0.1:\(shards[0].port):1 a
                   - 127.0.0.1:\(shards[1].port):1 b

                """
            let file = path + "/nutcracker.yml"
            try writeText(configuration, to: file)
            let proxy = try ChildProcess(nutcracker, ["-c", file, "-s", "\(try freePort())"], quiet: true)
            try waitForPort(proxyPort)
            let client = try TestClient(port: proxyPort)
            let count = 400
            var pipeline: [UInt8] = []
            for i in 0..<count { pipeline += request("SET", "user:\(i)", "value-\(i)") }
            try client.send(pipeline)
            #expect(try client.receive(count) == Array(repeating: .ok, count: count))
            pipeline = []
            for i in 0..<count { pipeline += request("GET", "user:\(i)") }
            try client.send(pipeline)
            let values = try client.receive(count)
            #expect(values == (0..<count).map { .text("value-\($0)") })
            // MGET is split by the proxy across the shards and put back together.
            #expect(
                try client.call("MGET", "user:1", "user:2", "nope")
                    == .array([.text("value-1"), .text("value-2"), .null]))
            let sizes = try shards.map { shard -> Int in
                guard case .integer(let n) = try TestClient(port: shard.port).call("DBSIZE") else { return -1 }
                return n
            }
            print("nutcracker spread \(count) keys as \(sizes)")
            #expect(sizes.allSatisfy { $0 > count / 10 })
            #expect(sizes.reduce(0, +) == count)
            #expect(proxy.stop(SIGTERM) >= 0)
            for shard in shards { #expect(shard.process.stop(SIGTERM) == 0) }
        }
    }
}

/// Writes `text` to a new file at `path`.
private func writeText(_ text: String, to path: String) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { throw TestSupportError("cannot create \(path)") }
    defer { close(fd) }
    let bytes = Array(text.utf8)
    guard bytes.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == bytes.count else {
        throw TestSupportError("cannot write \(path)")
    }
}
