import NIOCore
import PogrebServer
import PogrebTestSupport
import Testing

/// Decodes all of `bytes`, fed in chunks of the given sizes (cycled).
/// - Returns: the requests and the error that stopped decoding, if any.
private func decodeAll(
    _ bytes: [UInt8], chunks: [Int] = [Int.max], limits: RESPLimits = RESPLimits()
) -> ([[[UInt8]]], RESPProtocolError?) {
    var decoder = RESPDecoder(limits: limits)
    var buffer = ByteBuffer()
    var requests: [[[UInt8]]] = []
    var offset = 0
    var chunk = 0
    while offset < bytes.count {
        let size = min(chunks[chunk % chunks.count], bytes.count - offset)
        chunk += 1
        buffer.writeBytes(bytes[offset..<(offset + size)])
        offset += size
        do {
            while let request = try decoder.next(&buffer) { requests.append(request) }
        } catch {
            return (requests, error)
        }
    }
    return (requests, nil)
}

@Suite("RESP decoder")
struct RESPDecoderTests {
    @Test("array requests, inline requests and empty requests decode, in any split")
    func validRequests() throws {
        let stream =
            request("SET", "k", "v") + Array("PING\r\n".utf8) + Array("*0\r\n".utf8) + Array("\r\n".utf8)
            + request([Array("GET".utf8), [0, 13, 10, 255]]) + Array("get  a\tb\n".utf8)
        let expected: [[[UInt8]]] = [
            ["SET", "k", "v"].map { Array($0.utf8) }, [Array("PING".utf8)],
            [Array("GET".utf8), [0, 13, 10, 255]], ["get", "a", "b"].map { Array($0.utf8) },
        ]
        #expect(decodeAll(stream).0 == expected)
        for size in 1...9 {
            let (requests, error) = decodeAll(stream, chunks: [size])
            #expect(error == nil)
            #expect(requests == expected, "chunks of \(size)")
        }
    }

    @Test("announced lengths beyond the limits fail on the header alone, before their bytes arrive")
    func limitsCheckedBeforeAllocation() {
        var limits = RESPLimits()
        limits.maxArrayLength = 100
        limits.maxBulkLength = 1000
        limits.maxInlineLength = 50
        limits.maxRequestBytes = 1500
        #expect(decodeAll(Array("*101\r\n".utf8), limits: limits).1 == RESPProtocolError("invalid multibulk length"))
        #expect(decodeAll(Array("*1\r\n$1001\r\n".utf8), limits: limits).1 == RESPProtocolError("invalid bulk length"))
        #expect(decodeAll(Array("*1\r\n$-1\r\n".utf8), limits: limits).1 == RESPProtocolError("invalid bulk length"))
        // The whole request's bytes: two bulks of 800 pass one by one but not together.
        let twoBulks = Array("*2\r\n$800\r\n".utf8) + [UInt8](repeating: 65, count: 800) + Array("\r\n$800\r\n".utf8)
        #expect(decodeAll(twoBulks, limits: limits).1 == RESPProtocolError("request larger than 1500 bytes"))
        #expect(
            decodeAll([UInt8](repeating: 65, count: 60), limits: limits).1
                == RESPProtocolError("too big inline request"))
        #expect(
            decodeAll(Array("*99999999999999999999999999\r\n".utf8)).1
                == RESPProtocolError("too big multibulk count string"))
        #expect(decodeAll(Array("*1\r\n$3\r\nabcXY".utf8)).1 == RESPProtocolError("bulk string not followed by CRLF"))
        #expect(decodeAll(Array("*1\r\n:3\r\n".utf8)).1 == RESPProtocolError("expected '$', got ':'"))
        #expect(decodeAll(Array("*x\r\n".utf8)).1 == RESPProtocolError("invalid multibulk count"))
        // The default limits take the largest value the store takes.
        #expect(RESPLimits().maxBulkLength >= 512 << 20)
    }

    @Test("a partial request leaves the buffer waiting and keeps no more than what arrived")
    func partialRequestWaits() throws {
        var decoder = RESPDecoder()
        var buffer = ByteBuffer(bytes: Array("*1048576\r\n$536870912\r\nab".utf8))
        #expect(try decoder.next(&buffer) == nil)
        // The array header was taken; the bulk header waits for its bytes.
        #expect(buffer.readableBytes == "$536870912\r\nab".utf8.count)
    }

    @Test("seeded random bytes never trap and every request keeps to the limits")
    func randomBytes() {
        var random = SeededGenerator.make("RESP random bytes")
        var limits = RESPLimits()
        limits.maxArrayLength = 64
        limits.maxBulkLength = 256
        limits.maxInlineLength = 128
        let alphabet: [UInt8] = Array("*$:+-\r\n0123456789 abc".utf8) + [0, 255]
        for _ in 0..<2000 {
            let length = Int.random(in: 0..<300, using: &random)
            let bytes: [UInt8] = (0..<length).map { _ in
                Bool.random(using: &random)
                    ? alphabet[Int.random(in: 0..<alphabet.count, using: &random)]
                    : UInt8.random(in: 0...255, using: &random)
            }
            let (requests, _) = decodeAll(bytes, chunks: [Int.random(in: 1...40, using: &random)], limits: limits)
            for request in requests {
                #expect(!request.isEmpty && request.count <= max(limits.maxArrayLength, limits.maxInlineLength))
                #expect(request.allSatisfy { $0.count <= max(limits.maxBulkLength, limits.maxInlineLength) })
            }
        }
    }

    @Test("mutations of valid pipelines never trap; the requests before the damage decode unchanged")
    func mutatedRequests() {
        var random = SeededGenerator.make("RESP mutations")
        for _ in 0..<1000 {
            var original: [UInt8] = []
            var boundaries: [Int] = []
            var requests: [[[UInt8]]] = []
            for _ in 0..<Int.random(in: 1...6, using: &random) {
                let words = (0..<Int.random(in: 1...4, using: &random)).map { _ in
                    (0..<Int.random(in: 0...12, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
                }
                requests.append(words)
                original += request(words)
                boundaries.append(original.count)
            }
            var mutated = original
            var firstChange = mutated.count
            for _ in 0..<Int.random(in: 1...4, using: &random) where !mutated.isEmpty {
                let at = Int.random(in: 0..<mutated.count, using: &random)
                firstChange = min(firstChange, at)
                switch Int.random(in: 0..<4, using: &random) {
                case 0: mutated[at] = UInt8.random(in: 0...255, using: &random)
                case 1: mutated.remove(at: at)
                case 2: mutated.insert(UInt8.random(in: 0...255, using: &random), at: at)
                default: mutated.removeSubrange(at...)
                }
            }
            let (decoded, _) = decodeAll(mutated, chunks: [Int.random(in: 1...64, using: &random)])
            let intact = boundaries.filter { $0 <= firstChange }.count
            #expect(Array(decoded.prefix(intact)) == Array(requests.prefix(intact)))
        }
    }
}
