import Glibc
import NIOCore
import PogrebTestSupport
import PogrebWorkload

/// A reply as the tests read it.
indirect enum Reply: Equatable, CustomStringConvertible {
    case simple(String)
    case error(String)
    case integer(Int)
    case bulk([UInt8]?)
    case array([Reply]?)

    static func text(_ string: String) -> Reply { .bulk(Array(string.utf8)) }
    static let null = Reply.bulk(nil)
    static let ok = Reply.simple("OK")

    var description: String {
        switch self {
        case .simple(let s): "+\(s)"
        case .error(let s): "-\(s)"
        case .integer(let n): ":\(n)"
        case .bulk(let b): b.map { "\"\(String(decoding: $0, as: UTF8.self))\"" } ?? "(nil)"
        case .array(let a): a.map { "[\($0.map(\.description).joined(separator: ", "))]" } ?? "(nil array)"
        }
    }

    var isError: Bool {
        if case .error = self { return true }
        return false
    }
}

/// Parses the replies in `bytes`; what follows the last complete reply is left in `rest`.
func parseReplies(_ bytes: [UInt8]) -> (replies: [Reply], rest: Int) {
    var index = 0
    var replies: [Reply] = []
    while let (reply, next) = parseReply(bytes, at: index) {
        replies.append(reply)
        index = next
    }
    return (replies, bytes.count - index)
}

private func parseReply(_ bytes: [UInt8], at start: Int) -> (Reply, Int)? {
    guard start < bytes.count else { return nil }
    var end = start
    while end + 1 < bytes.count && !(bytes[end] == 13 && bytes[end + 1] == 10) { end += 1 }
    guard end + 1 < bytes.count else { return nil }
    let line = String(decoding: bytes[(start + 1)..<end], as: UTF8.self)
    let next = end + 2
    switch bytes[start] {
    case UInt8(ascii: "+"): return (.simple(line), next)
    case UInt8(ascii: "-"): return (.error(line), next)
    case UInt8(ascii: ":"): return (.integer(Int(line) ?? -999), next)
    case UInt8(ascii: "$"):
        let length = Int(line) ?? -1
        if length < 0 { return (.bulk(nil), next) }
        guard next + length + 2 <= bytes.count else { return nil }
        return (.bulk(Array(bytes[next..<(next + length)])), next + length + 2)
    case UInt8(ascii: "*"):
        let count = Int(line) ?? -1
        if count < 0 { return (.array(nil), next) }
        var elements: [Reply] = []
        var position = next
        for _ in 0..<count {
            guard let (element, after) = parseReply(bytes, at: position) else { return nil }
            elements.append(element)
            position = after
        }
        return (.array(elements), position)
    default:
        return (.error("unparsable reply byte \(bytes[start])"), bytes.count)
    }
}

/// A request in RESP array form.
func request(_ words: [[UInt8]]) -> [UInt8] {
    var bytes = Array("*\(words.count)\r\n".utf8)
    for word in words {
        bytes += Array("$\(word.count)\r\n".utf8) + word + [13, 10]
    }
    return bytes
}

/// A request of text words.
func request(_ words: String...) -> [UInt8] { request(words.map { Array($0.utf8) }) }

/// A blocking TCP client on 127.0.0.1, for the loopback tests.
final class TestClient {
    let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            close(fd)
            throw TestSupportError("connect to 127.0.0.1:\(port) failed: errno \(errno)")
        }
        var timeout = timeval(tv_sec: 20, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    func send(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL))
            }
            guard n > 0 else { throw TestSupportError("send failed: errno \(errno)") }
            sent += n
        }
    }

    /// Reads until `count` replies arrived; fewer when the server closes the connection first.
    func receive(_ count: Int) throws -> [Reply] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let parsed = parseReplies(bytes)
            if parsed.replies.count >= count { return parsed.replies }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { return parsed.replies }
            guard n > 0 else { throw TestSupportError("recv failed: errno \(errno)") }
            bytes += chunk[0..<n]
        }
    }

    /// Sends one request and returns its reply.
    func call(_ words: String...) throws -> Reply {
        try send(request(words.map { Array($0.utf8) }))
        return try receive(1).first ?? .error("connection closed")
    }

    /// Whether the server closed the connection (a read returns end of file within 10 s).
    func isClosedByServer() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { return true }
            if n < 0 { return errno == ECONNRESET }
        }
    }
}

/// `name` on `PATH` (or the usual Debian places), if installed.
func findProgram(_ name: String) -> String? {
    let path = getenv("PATH").map { String(cString: $0) } ?? ""
    for directory in path.split(separator: ":").map(String.init) + ["/usr/bin", "/usr/sbin", "/usr/local/bin"] {
        let candidate = directory + "/" + name
        if access(candidate, X_OK) == 0 { return candidate }
    }
    return nil
}
