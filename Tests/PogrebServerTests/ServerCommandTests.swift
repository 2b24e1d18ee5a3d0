import NIOCore
import NIOEmbedded
import Pogreb
import PogrebTestSupport
import Synchronization
import Testing

@testable import PogrebServer

/// One connection of a server over a fresh database, driven through NIO's EmbeddedChannel.
private final class Harness {
    let channel = EmbeddedChannel()
    let database: Database
    let shared: ServerShared
    let connection: RESPConnection

    init(_ path: String, configure: (inout ServerConfiguration) -> Void = { _ in }) throws {
        var configuration = ServerConfiguration()
        configure(&configuration)
        if configuration.readOnly {
            try Database.open(at: path).close()  // a read-only open needs a database
        }
        database = try Database.open(at: path, options: configuration.databaseOptions())
        // The embedded channel's event loop is not thread-safe: SCAN and FLUSHDB run inline here
        // (EndToEndTests run them off the event loop, on a real server).
        shared = ServerShared(database: database, configuration: configuration, walksOffTheEventLoop: false)
        connection = RESPConnection(shared: shared)
        try channel.pipeline.syncOperations.addHandler(connection)
    }

    /// Sends `bytes` as one read and returns every reply flushed for it.
    func exchange(_ bytes: [UInt8]) throws -> [Reply] {
        try channel.writeInbound(ByteBuffer(bytes: bytes))
        var output: [UInt8] = []
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { output += Array(buffer.readableBytesView) }
        return parseReplies(output).replies
    }

    func call(_ words: String...) throws -> Reply {
        try exchange(request(words.map { Array($0.utf8) })).first ?? .error("no reply")
    }

    func close() throws {
        _ = try? channel.finish()
        try database.close()
    }
}

/// Counts the requests for more bytes that reach the head of the pipeline (the socket, in a
/// real channel).
private final class ReadCounter: ChannelOutboundHandler {
    typealias OutboundIn = NIOAny
    var reads = 0
    func read(context: ChannelHandlerContext) {
        reads += 1
        context.read()
    }
}

@Suite("Server commands")
struct ServerCommandTests {
    @Test("a client that does not read its replies stops the server reading its requests until they drain")
    func readsPauseWhileRepliesCannotBeSent() throws {
        try withTemporaryDirectory { path in
            let h = try Harness(path + "/db")
            let counter = ReadCounter()
            try h.channel.pipeline.syncOperations.addHandler(counter, position: .first)
            h.channel.read()
            #expect(counter.reads == 1)
            // Replies pile up past the high-water mark: the next read is held back.
            h.channel.isWritable = false
            h.channel.pipeline.fireChannelWritabilityChanged()
            h.channel.read()
            #expect(counter.reads == 1)
            // Requests already read still run; their replies queue in the channel.
            #expect(try h.call("SET", "a", "1") == .ok)
            #expect(counter.reads == 1)
            // Drained: the held read goes out, once.
            h.channel.isWritable = true
            h.channel.pipeline.fireChannelWritabilityChanged()
            #expect(counter.reads == 2)
            h.channel.pipeline.fireChannelWritabilityChanged()
            #expect(counter.reads == 2)
            h.channel.read()
            #expect(counter.reads == 3)
            try h.close()
        }
    }

    @Test("GET, SET with NX/XX/GET, SETNX, GETSET, DEL, EXISTS, STRLEN, DBSIZE behave as in Redis")
    func stringCommands() throws {
        try withTemporaryDirectory { path in
            let h = try Harness(path + "/db")
            #expect(try h.call("GET", "a") == .null)
            #expect(try h.call("SET", "a", "1") == .ok)
            #expect(try h.call("GET", "a") == .text("1"))
            #expect(try h.call("SET", "a", "2", "NX") == .null)
            #expect(try h.call("SET", "b", "2", "XX") == .null)
            #expect(try h.call("GET", "b") == .null)
            #expect(try h.call("SET", "a", "3", "XX") == .ok)
            #expect(try h.call("SET", "a", "4", "GET") == .text("3"))
            #expect(try h.call("SET", "n", "x", "NX", "GET") == .null)
            #expect(try h.call("SET", "a", "5", "NX", "XX") == .error("ERR syntax error"))
            #expect(try h.call("SET", "a", "5", "EX", "10").isError)
            #expect(try h.call("SETNX", "a", "9") == .integer(0))
            #expect(try h.call("SETNX", "c", "9") == .integer(1))
            #expect(try h.call("GETSET", "c", "10") == .text("9"))
            #expect(try h.call("GETSET", "d", "1") == .null)
            #expect(try h.call("STRLEN", "c") == .integer(2))
            #expect(try h.call("STRLEN", "zz") == .integer(0))
            #expect(try h.call("EXISTS", "a", "a", "zz", "c") == .integer(3))
            #expect(try h.call("DBSIZE") == .integer(4))
            #expect(try h.call("DEL", "a", "a", "zz", "c") == .integer(2))
            #expect(try h.call("DEL", "d") == .integer(1))
            #expect(try h.call("DBSIZE") == .integer(1))
            try h.close()
        }
    }

    @Test("MGET reads through get(many:); MSET is one batch; keys and values are binary-safe")
    func multiKeyAndBinary() throws {
        try withTemporaryDirectory { path in
            let h = try Harness(path + "/db")
            let key: [UInt8] = [0, 13, 10, 255, 42]
            let value: [UInt8] = Array(0...255) + [13, 10]
            let words: [[UInt8]] = [Array("MSET".utf8), key, value, Array("k2".utf8), []]
            #expect(try h.exchange(request(words)) == [.ok])
            #expect(
                try h.exchange(request([Array("MGET".utf8), key, Array("k2".utf8), Array("no".utf8)]))
                    == [.array([.bulk(value), .bulk([]), .null])])
            #expect(try h.call("MSET", "a", "1", "b") == .error("ERR wrong number of arguments for 'mset' command"))
            #expect(try h.database.get(key) == value)
            try h.close()
        }
    }

    @Test("pipelined requests in one read are answered in order in one flush, also split across reads")
    func pipelining() throws {
        try withTemporaryDirectory { path in
            let h = try Harness(path + "/db")
            var pipeline: [UInt8] = []
            for i in 0..<100 { pipeline += request("SET", "k\(i)", "v\(i)") + request("GET", "k\(i)") }
            try h.channel.writeInbound(ByteBuffer(bytes: pipeline))
            var flushes = 0
            var output: [UInt8] = []
            while let buffer = try h.channel.readOutbound(as: ByteBuffer.self) {
                flushes += 1
                output += Array(buffer.readableBytesView)
            }
            #expect(flushes == 1)
            let replies = parseReplies(output).replies
            #expect(replies.count == 200)
            for i in 0..<100 {
                #expect(replies[2 * i] == .ok)
                #expect(replies[2 * i + 1] == .text("v\(i)"))
            }
            // A request cut in the middle of a bulk is answered when its rest arrives.
            let cut = request("SET", "split", "value")
            #expect(try h.exchange(Array(cut[0..<13])) == [])
            #expect(try h.exchange(Array(cut[13...]) + request("GET", "split")) == [.ok, .text("value")])
            try h.close()
        }
    }

    @Test("unknown commands, wrong arity, PING, ECHO, SELECT, COMMAND, CONFIG GET and QUIT")
    func protocolCommands() throws {
        try withTemporaryDirectory { path in
            let h = try Harness(path + "/db")
            #expect(
                try h.call("NOPE", "x", "y")
                    == .error("ERR unknown command 'NOPE', with args beginning with: 'x' 'y' "))
            #expect(try h.call("GET") == .error("ERR wrong number of arguments for 'get' command"))
            #expect(try h.call("PING") == .simple("PONG"))
            #expect(try h.call("ping", "hi") == .text("hi"))
            #expect(try h.call("ECHO", "e") == .text("e"))
            #expect(try h.call("SELECT", "0") == .ok)
            #expect(try h.call("SELECT", "1").isError)
            #expect(try h.call("COMMAND", "COUNT") == .integer(commandTable.count))
            if case .array(let entries?) = try h.call("COMMAND") {
                #expect(entries.count == commandTable.count)
            } else {
                Issue.record("COMMAND did not answer an array")
            }
            #expect(try h.call("CONFIG", "GET", "save") == .array([.text("save"), .text("")]))
            #expect(
                try h.call("CONFIG", "GET", "APPEND*")
                    == .array([.text("appendonly"), .text("no"), .text("appendfsync"), .text("everysec")]))
            #expect(try h.call("CONFIG", "GET", "nothing") == .array([]))
            #expect(try h.call("CONFIG", "SET", "save", "").isError)
            #expect(try h.call("QUIT") == .ok)
            #expect(!h.channel.isActive)
            try h.close()
        }
    }

    @Test("a malformed request gets a protocol error after the replies before it, and the connection closes")
    func malformedRequestCloses() throws {
        try withTemporaryDirectory { path in
            let h = try Harness(path + "/db")
            let replies = try h.exchange(request("PING") + Array("*1\r\n$x\r\n".utf8) + request("PING"))
            #expect(replies == [.simple("PONG"), .error("ERR Protocol error: invalid bulk length")])
            #expect(!h.channel.isActive)
            #expect(h.shared.counters.protocolErrors.load(ordering: .relaxed) == 1)
            try h.close()
        }
    }

    @Test("with --requirepass nothing but AUTH and QUIT runs before AUTH succeeds")
    func authentication() throws {
        try withTemporaryDirectory { path in
            let h = try Harness(path + "/db") { $0.password = "s3cret" }
            #expect(try h.call("GET", "a") == .error("NOAUTH Authentication required."))
            #expect(try h.call("AUTH", "wrong").isError)
            #expect(try h.call("AUTH", "other", "s3cret").isError)
            #expect(try h.call("AUTH", "default", "s3cret") == .ok)
            #expect(try h.call("SET", "a", "1") == .ok)
            try h.close()
        }
    }

    @Test("a --readonly server refuses every write and serves reads")
    func readOnlyServer() throws {
        try withTemporaryDirectory { path in
            let h = try Harness(path + "/db") { $0.readOnly = true }
            for words in [
                ["SET", "a", "1"], ["DEL", "a"], ["MSET", "a", "1"], ["SETNX", "a", "1"], ["GETSET", "a", "1"],
            ] {
                let reply = try h.exchange(request(words.map { Array($0.utf8) })).first
                guard case .error(let message)? = reply else {
                    Issue.record("\(words) answered \(String(describing: reply))")
                    continue
                }
                #expect(message.hasPrefix("READONLY"))
            }
            #expect(try h.call("GET", "a") == .null)
            try h.close()
        }
    }

    @Test("FLUSHDB runs only on a server started to allow it")
    func flushNeedsTheFlag() throws {
        try withTemporaryDirectory { path in
            let refused = try Harness(path + "/a")
            #expect(try refused.call("SET", "a", "1") == .ok)
            #expect(try refused.call("FLUSHDB").isError)
            #expect(try refused.call("DBSIZE") == .integer(1))
            try refused.close()
            let allowed = try Harness(path + "/b") { $0.allowFlush = true }
            for i in 0..<3000 { _ = try allowed.call("SET", "k\(i)", "v") }
            #expect(try allowed.call("FLUSHDB") == .ok)
            #expect(try allowed.call("DBSIZE") == .integer(0))
            try allowed.close()
        }
    }

    @Test("INFO has Redis' sections and our statistics")
    func info() throws {
        try withTemporaryDirectory { path in
            let h = try Harness(path + "/db")
            _ = try h.call("SET", "a", "1")
            _ = try h.call("GET", "a")
            _ = try h.call("GET", "b")
            guard case .bulk(let bytes?) = try h.call("INFO") else {
                Issue.record("INFO did not answer a bulk string")
                return
            }
            let text = String(decoding: bytes, as: UTF8.self)
            for line in [
                "# Server\r\n", "redis_version:", "# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n",
                "keyspace_hits:1\r\n", "keyspace_misses:1\r\n", "# Pogreb\r\n", "pogreb_sync:interval",
            ] {
                #expect(text.contains(line), "missing \(line)")
            }
            guard case .bulk(let keyspace?) = try h.call("INFO", "keyspace") else { return }
            #expect(String(decoding: keyspace, as: UTF8.self) == "# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n")
            try h.close()
        }
    }

    @Test("SCAN returns every key exactly once across compaction-free writes and MATCH filters, for any COUNT")
    func scanCoversEveryKeyOnce() throws {
        try withTemporaryDirectory { path in
            let h = try Harness(path + "/db")
            var keys = Set<String>()
            for i in 0..<500 {
                keys.insert("key:\(i)")
                _ = try h.call("SET", "key:\(i)", "v")
            }
            _ = try h.call("SET", "other", "v")
            for count in ["1", "7", "100", "1000"] {
                var cursor = "0"
                var seen: [String] = []
                var calls = 0
                repeat {
                    guard case .array(let parts?) = try h.call("SCAN", cursor, "MATCH", "key:*", "COUNT", count),
                        case .bulk(let next?) = parts[0], case .array(let page?) = parts[1]
                    else {
                        Issue.record("SCAN answered no cursor and page")
                        return
                    }
                    cursor = String(decoding: next, as: UTF8.self)
                    for case .bulk(let key?) in page { seen.append(String(decoding: key, as: UTF8.self)) }
                    // Writes between the calls: overwriting seen keys does not make them come back.
                    if let first = seen.first { _ = try h.call("SET", first, "again") }
                    calls += 1
                } while cursor != "0" && calls < 2000
                #expect(seen.count == keys.count, "COUNT \(count)")
                #expect(Set(seen) == keys, "COUNT \(count)")
            }
            #expect(try h.call("SCAN", "x").isError)
            try h.close()
        }
    }

    @Test("the glob of SCAN MATCH follows Redis' rules")
    func globPatterns() {
        func m(_ pattern: String, _ text: String) -> Bool { globMatch(pattern: Array(pattern.utf8), Array(text.utf8)) }
        #expect(m("*", ""))
        #expect(m("a*c", "abbbc"))
        #expect(!m("a*c", "abbb"))
        #expect(m("h?llo", "hello"))
        #expect(m("h[ae]llo", "hallo"))
        #expect(!m("h[^e]llo", "hello"))
        #expect(m("h[a-c]llo", "hbllo"))
        #expect(m("a\\*", "a*"))
        #expect(!m("a\\*", "ab"))
        #expect(m("*a*b*c*", "xxaxxbxxcxx"))
    }
}

@Suite("Server INFO formatting")
struct InfoFormattingTests {
    @Test("INFO's two-decimal numbers never trap, whatever the engine reports")
    func formatTwoDecimals() {
        #expect(String(format2: 0.5) == "0.50")
        #expect(String(format2: 12.345) == "12.35")
        #expect(String(format2: 0.05) == "0.05")
        #expect(String(format2: .nan) == "0.00")
        #expect(String(format2: .infinity) == "0.00")
        #expect(String(format2: 1e300) == "0.00")
    }
}
