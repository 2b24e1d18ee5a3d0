import NIOCore
import Pogreb

/// What one connection has done so far, as the commands see it.
struct Session: Sendable {
    /// Whether `AUTH` succeeded (or no password is set).
    var authenticated: Bool
    /// Whether a write command ran since the replies were last sent: under
    /// ``ServerSyncMode/always`` the replies wait for a sync.
    var wrote = false
    /// Whether `QUIT` ran: the connection closes once the replies are sent.
    var quit = false
}

/// One command of the table: Redis' arity (n: exactly n words with the name; -n: at least n),
/// whether it writes, and where its keys are (for `COMMAND`).
struct CommandSpec: Sendable {
    var name: String
    var arity: Int
    var writes: Bool
    var firstKey = 0
    var lastKey = 0
    var step = 0
}

/// The commands `pogreb serve` knows, by upper-case name (docs/SERVER.md describes each).
let commandTable: [String: CommandSpec] = {
    let specs = [
        CommandSpec(name: "get", arity: 2, writes: false, firstKey: 1, lastKey: 1, step: 1),
        CommandSpec(name: "set", arity: -3, writes: true, firstKey: 1, lastKey: 1, step: 1),
        CommandSpec(name: "setnx", arity: 3, writes: true, firstKey: 1, lastKey: 1, step: 1),
        CommandSpec(name: "getset", arity: 3, writes: true, firstKey: 1, lastKey: 1, step: 1),
        CommandSpec(name: "del", arity: -2, writes: true, firstKey: 1, lastKey: -1, step: 1),
        CommandSpec(name: "exists", arity: -2, writes: false, firstKey: 1, lastKey: -1, step: 1),
        CommandSpec(name: "mget", arity: -2, writes: false, firstKey: 1, lastKey: -1, step: 1),
        CommandSpec(name: "mset", arity: -3, writes: true, firstKey: 1, lastKey: -1, step: 2),
        CommandSpec(name: "strlen", arity: 2, writes: false, firstKey: 1, lastKey: 1, step: 1),
        CommandSpec(name: "dbsize", arity: 1, writes: false),
        CommandSpec(name: "ping", arity: -1, writes: false),
        CommandSpec(name: "echo", arity: 2, writes: false),
        CommandSpec(name: "info", arity: -1, writes: false),
        CommandSpec(name: "command", arity: -1, writes: false),
        CommandSpec(name: "scan", arity: -2, writes: false),
        CommandSpec(name: "flushdb", arity: -1, writes: true),
        CommandSpec(name: "quit", arity: -1, writes: false),
        CommandSpec(name: "auth", arity: -2, writes: false),
        CommandSpec(name: "select", arity: 2, writes: false),
        CommandSpec(name: "config", arity: -3, writes: false),
        CommandSpec(name: "client", arity: -2, writes: false),
    ]
    return Dictionary(uniqueKeysWithValues: specs.map { ($0.name.uppercased(), $0) })
}()

/// Runs commands against the shared database, appending each reply to a buffer.
struct CommandProcessor: Sendable {
    let shared: ServerShared
    var database: Database { shared.database }

    /// Whether the request is one of the commands that walk the whole log (SCAN, FLUSHDB), which
    /// the connection runs off its event loop.
    static func walksTheLog(_ arguments: [[UInt8]]) -> Bool {
        guard let name = arguments.first, name.count == 4 || name.count == 7 else { return false }
        let upper = String(decoding: name, as: UTF8.self).uppercased()
        return upper == "SCAN" || upper == "FLUSHDB"
    }

    /// Runs `arguments` (the command name first) and appends its reply to `out`. Never throws:
    /// every failure is a Redis error reply.
    func execute(_ arguments: [[UInt8]], session: inout Session, out: inout ByteBuffer) {
        let name = String(decoding: arguments[0], as: UTF8.self).uppercased()
        guard let spec = commandTable[name] else {
            out.writeError(unknownCommand(arguments))
            return
        }
        if !session.authenticated && name != "AUTH" && name != "QUIT" {
            out.writeError("NOAUTH Authentication required.")
            return
        }
        if spec.arity > 0 ? arguments.count != spec.arity : arguments.count < -spec.arity {
            out.writeError("ERR wrong number of arguments for '\(spec.name)' command")
            return
        }
        if spec.writes && shared.configuration.readOnly {
            out.writeError("READONLY You can't write against a read only server (started with --readonly).")
            return
        }
        do {
            try run(name, arguments, session: &session, out: &out)
            if spec.writes { session.wrote = true }
        } catch let error as PogrebError {
            out.writeError(reply(for: error))
        } catch {
            out.writeError("ERR \(error)")
        }
    }

    // swiftlint:disable:next cyclomatic_complexity
    private func run(_ name: String, _ a: [[UInt8]], session: inout Session, out: inout ByteBuffer) throws {
        switch name {
        case "GET":
            try writeValue(of: a[1], into: &out)
        case "SET":
            try set(a, out: &out)
        case "SETNX":
            out.writeRESPInteger(try database.putIfAbsent(a[1], a[2]) ? 1 : 0)
        case "GETSET":
            var old: [UInt8]?
            try database.update(a[1]) { current in
                old = current
                return a[2]
            }
            out.writeBulk(old)
        case "DEL":
            if a.count == 2 {
                out.writeRESPInteger(try database.delete(a[1]) ? 1 : 0)
            } else {
                var batch = WriteBatch()
                for key in a.dropFirst() { batch.delete(key) }
                out.writeRESPInteger(try database.apply(batch).lazy.filter { $0 }.count)
            }
        case "EXISTS":
            var found = 0
            for key in a.dropFirst() where try database.contains(key) { found += 1 }
            out.writeRESPInteger(found)
        case "MGET":
            let values = try database.get(many: Array(a.dropFirst()))
            out.writeArrayHeader(values.count)
            for value in values { out.writeBulk(value) }
        case "MSET":
            guard a.count % 2 == 1 else {
                out.writeError("ERR wrong number of arguments for 'mset' command")
                return
            }
            var batch = WriteBatch()
            var index = 1
            while index < a.count {
                batch.put(a[index], a[index + 1])
                index += 2
            }
            try database.apply(batch)
            out.writeSimpleString("OK")
        case "STRLEN":
            let length = try unsafe database.withValue(forKey: a[1]) { unsafe $0?.count ?? 0 }
            out.writeRESPInteger(length)
        case "DBSIZE":
            out.writeRESPInteger(try database.count)
        case "PING":
            if a.count > 2 {
                out.writeError("ERR wrong number of arguments for 'ping' command")
            } else if a.count == 2 {
                out.writeBulk(a[1])
            } else {
                out.writeSimpleString("PONG")
            }
        case "ECHO":
            out.writeBulk(a[1])
        case "INFO":
            out.writeBulk(try info(shared, sections: a.dropFirst().map { String(decoding: $0, as: UTF8.self) }))
        case "COMMAND":
            command(a, out: &out)
        case "SCAN":
            try scan(a, out: &out)
        case "FLUSHDB":
            try flush(a, out: &out)
        case "QUIT":
            session.quit = true
            out.writeSimpleString("OK")
        case "AUTH":
            auth(a, session: &session, out: &out)
        case "SELECT":
            if a[1] == Array("0".utf8) {
                out.writeSimpleString("OK")
            } else {
                out.writeError("ERR DB index is out of range")
            }
        case "CONFIG":
            // Read-only parameters that describe this server in Redis' terms, for tools that ask
            // (redis-benchmark asks for `save` and `appendonly`); nothing is settable.
            if String(decoding: a[1], as: UTF8.self).uppercased() == "GET" {
                let patterns = a.dropFirst(2)
                let matching = configParameters.filter { name, _ in
                    patterns.contains { globMatch(pattern: $0.map { lowercaseASCII($0) }, Array(name.utf8)) }
                }
                out.writeArrayHeader(2 * matching.count)
                for (name, value) in matching {
                    out.writeBulk(name)
                    out.writeBulk(value)
                }
            } else {
                out.writeError("ERR CONFIG \(String(decoding: a[1], as: UTF8.self)) is not supported by pogreb serve")
            }
        case "CLIENT":
            // Client libraries name themselves on connect; the names are accepted and not kept.
            let sub = String(decoding: a[1], as: UTF8.self).uppercased()
            if sub == "SETNAME" || sub == "SETINFO" {
                out.writeSimpleString("OK")
            } else {
                out.writeError("ERR CLIENT \(sub.lowercased()) is not supported by pogreb serve")
            }
        default:
            out.writeError(unknownCommand(a))
        }
    }

    /// GET: the value lent by the engine is copied straight into the reply (no array between);
    /// the lent buffer does not leave the closure.
    private func writeValue(of key: [UInt8], into out: inout ByteBuffer) throws {
        try unsafe database.withValue(forKey: key) { value in
            guard let value = unsafe value else {
                out.writeStaticString("$-1\r\n")
                return
            }
            out.writeBulkHeader(value.count)
            unsafe out.writeBytes(value)
            out.writeStaticString("\r\n")
        }
    }

    /// SET key value [NX|XX] [GET] [KEEPTTL]; the expiry options are refused.
    private func set(_ a: [[UInt8]], out: inout ByteBuffer) throws {
        var onlyIfAbsent = false
        var onlyIfPresent = false
        var returnOld = false
        for option in a.dropFirst(3) {
            switch String(decoding: option, as: UTF8.self).uppercased() {
            case "NX": onlyIfAbsent = true
            case "XX": onlyIfPresent = true
            case "GET": returnOld = true
            case "KEEPTTL": break
            case "EX", "PX", "EXAT", "PXAT":
                out.writeError("ERR pogreb serve does not expire keys (SET EX/PX/EXAT/PXAT)")
                return
            default:
                out.writeError("ERR syntax error")
                return
            }
        }
        if onlyIfAbsent && onlyIfPresent {
            out.writeError("ERR syntax error")
            return
        }
        if !onlyIfAbsent && !onlyIfPresent && !returnOld {
            try database.put(a[1], a[2])
            out.writeSimpleString("OK")
            return
        }
        var old: [UInt8]?
        var stored = false
        try database.update(a[1]) { current in
            old = current
            if (onlyIfAbsent && current != nil) || (onlyIfPresent && current == nil) { return current }
            stored = true
            return a[2]
        }
        if returnOld {
            out.writeBulk(old)
        } else if stored {
            out.writeSimpleString("OK")
        } else {
            out.writeStaticString("$-1\r\n")
        }
    }

    /// AUTH password, or AUTH default password.
    private func auth(_ a: [[UInt8]], session: inout Session, out: inout ByteBuffer) {
        guard let password = shared.configuration.password else {
            out.writeError(
                "ERR AUTH <password> called without any password configured for the default user. "
                    + "Are you sure your configuration is correct?")
            return
        }
        guard a.count <= 3 else {
            out.writeError("ERR syntax error")
            return
        }
        let user = a.count == 3 ? String(decoding: a[1], as: UTF8.self) : "default"
        if user == "default" && constantTimeEqual(a[a.count - 1], Array(password.utf8)) {
            session.authenticated = true
            out.writeSimpleString("OK")
        } else {
            out.writeError("WRONGPASS invalid username-password pair or user is disabled.")
        }
    }

    /// COMMAND, COMMAND COUNT, COMMAND INFO name…, COMMAND DOCS (empty: no documentation is served).
    private func command(_ a: [[UInt8]], out: inout ByteBuffer) {
        let sub = a.count > 1 ? String(decoding: a[1], as: UTF8.self).uppercased() : ""
        switch sub {
        case "":
            let specs = commandTable.values.sorted { $0.name < $1.name }
            out.writeArrayHeader(specs.count)
            for spec in specs { writeCommandInfo(spec, into: &out) }
        case "COUNT":
            out.writeRESPInteger(commandTable.count)
        case "INFO":
            out.writeArrayHeader(a.count - 2)
            for name in a.dropFirst(2) {
                if let spec = commandTable[String(decoding: name, as: UTF8.self).uppercased()] {
                    writeCommandInfo(spec, into: &out)
                } else {
                    out.writeStaticString("*-1\r\n")
                }
            }
        case "DOCS":
            out.writeArrayHeader(0)
        default:
            out.writeError("ERR unknown subcommand '\(sub.lowercased())'. Try COMMAND, COMMAND COUNT, COMMAND INFO.")
        }
    }

    /// One entry of COMMAND's reply, in the six fields of Redis 2.8–6: name, arity, flags, first
    /// key, last key, step.
    private func writeCommandInfo(_ spec: CommandSpec, into out: inout ByteBuffer) {
        out.writeArrayHeader(6)
        out.writeBulk(spec.name)
        out.writeRESPInteger(spec.arity)
        out.writeArrayHeader(1)
        if spec.writes { out.writeSimpleString("write") } else { out.writeSimpleString("readonly") }
        out.writeRESPInteger(spec.firstKey)
        out.writeRESPInteger(spec.lastKey)
        out.writeRESPInteger(spec.step)
    }

    /// FLUSHDB [ASYNC|SYNC]: only on a server started with ``ServerConfiguration/allowFlush``.
    /// Deletes every key in batches of 1 024 during one walk of the log; not atomic (a crash
    /// half-way leaves some keys), and keys written meanwhile may survive.
    private func flush(_ a: [[UInt8]], out: inout ByteBuffer) throws {
        guard shared.configuration.allowFlush else {
            out.writeError("ERR FLUSHDB is disabled: start pogreb serve with --enable-flushdb to allow it")
            return
        }
        if a.count > 2 {
            out.writeError("ERR syntax error")
            return
        }
        var batch = WriteBatch()
        try database.forEachKey { key in
            batch.delete(key)
            if batch.count >= 1024 {
                try database.apply(batch)
                batch = WriteBatch()
            }
        }
        if !batch.isEmpty { try database.apply(batch) }
        out.writeSimpleString("OK")
    }
}

extension CommandProcessor {
    /// The parameters `CONFIG GET` reports, in Redis' names: no RDB snapshots, the append-only
    /// setting that matches ``ServerSyncMode``, and the limits in force.
    var configParameters: [(String, String)] {
        let configuration = shared.configuration
        let fsync =
            switch configuration.sync {
            case .always: "always"
            case .interval: "everysec"
            case .never: "no"
            }
        return [
            ("save", ""),
            ("appendonly", "no"),
            ("appendfsync", fsync),
            ("databases", "1"),
            ("maxclients", "\(configuration.maxClients)"),
            ("timeout", "\(configuration.idleTimeoutSeconds)"),
            ("proto-max-bulk-len", "\(configuration.limits.maxBulkLength)"),
            ("client-query-buffer-limit", "\(configuration.limits.maxRequestBytes)"),
        ]
    }
}

/// `byte` in lower case when it is an ASCII letter.
func lowercaseASCII(_ byte: UInt8) -> UInt8 {
    byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte
}

/// Redis' reply to an unknown command, quoting the first arguments.
func unknownCommand(_ arguments: [[UInt8]]) -> String {
    let name = String(decoding: arguments[0].prefix(128), as: UTF8.self)
    let quoted = arguments.dropFirst().prefix(8).map { "'\(String(decoding: $0.prefix(128), as: UTF8.self))' " }
    return "ERR unknown command '\(name)', with args beginning with: \(quoted.joined())"
}

/// The error reply for an engine error: Redis' prefix where one fits, then the engine's message.
func reply(for error: PogrebError) -> String {
    switch error.code {
    case .readOnly: "READONLY \(error.message)"
    default: "ERR \(error.message)"
    }
}

/// Whether `a` equals `b`, in a time that does not depend on where they first differ.
func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    var difference = UInt8(a.count == b.count ? 0 : 1)
    for index in 0..<max(a.count, b.count) {
        difference |= (index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0)
    }
    return difference == 0
}
