import Dispatch
import NIOCore
import Pogreb
import Synchronization

/// One client connection: decodes the requests of each read, runs them in order and sends their
/// replies with one flush when the read batch ends.
///
/// Under ``ServerSyncMode/always`` a batch that wrote holds its replies until
/// ``GroupCommit`` reports the writes durable; requests arriving meanwhile are buffered and run
/// after, so replies stay in request order. A request that breaks the protocol or a limit gets
/// `-ERR Protocol error: …` after the replies before it, and the connection closes.
///
/// Back-pressure: the connection asks the socket for more requests only while its replies drain
/// (the channel is writable: fewer than NIO's high-water mark of bytes, 64 KiB, wait to be sent)
/// and no sync is awaited, so a client that pipelines without reading its replies, or faster
/// than syncs complete, makes the server hold at most one read's worth of requests and their
/// replies, not an unbounded queue.
final class RESPConnection: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let processor: CommandProcessor
    private var decoder: RESPDecoder
    private var session: Session
    /// Received bytes not yet decoded (a partial request, or requests held while waiting).
    private var input: ByteBuffer?
    /// The replies of the current batch.
    private var output = ByteBuffer()
    /// Whether this batch's replies wait for a sync; nothing more is run until it completes.
    private var waiting = false
    /// Whether the connection closes once the replies are sent (QUIT, a protocol error).
    private var closing = false
    /// Whether a read from the socket was asked for while reading was held back.
    private var readHeld = false

    init(shared: ServerShared) {
        processor = CommandProcessor(shared: shared)
        decoder = RESPDecoder(limits: shared.configuration.limits)
        session = Session(authenticated: shared.configuration.password == nil)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        output = context.channel.allocator.buffer(capacity: 4096)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if input == nil {
            input = incoming
        } else {
            input!.writeBuffer(&incoming)
        }
        if !waiting && !closing { runRequests(context: context) }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        finishBatch(context: context)
    }

    /// Passes the request for more bytes on only while replies drain and no sync is awaited.
    func read(context: ChannelHandlerContext) {
        if waiting || !context.channel.isWritable {
            readHeld = true
        } else {
            context.read()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        resumeReading(context: context)
        context.fireChannelWritabilityChanged()
    }

    /// Asks for the read that was held back, once nothing holds it any more.
    private func resumeReading(context: ChannelHandlerContext) {
        guard readHeld, !waiting, context.channel.isWritable else { return }
        readHeld = false
        context.read()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// Decodes and runs every complete request in `input`, appending the replies to `output`.
    ///
    /// The loop works on local copies of the decoder, the session and the reply buffer, written
    /// back at the end: stored properties of a class are checked for exclusive access at run time
    /// on every mutation (a profile of pipelined GETs showed about 5 % of the time in those
    /// checks), locals are not. Each is moved out (its property left empty), so no storage is
    /// shared and nothing is copied on write.
    private func runRequests(context: ChannelHandlerContext) {
        guard var buffer = input else { return }
        input = nil
        var decoder = self.decoder
        self.decoder = RESPDecoder(limits: decoder.limits)
        var output = self.output
        self.output = ByteBuffer()
        var session = self.session
        var ran = 0
        var walk: [[UInt8]]?
        while !session.quit {
            do {
                guard let arguments = try decoder.next(&buffer) else { break }
                ran += 1
                if processor.shared.walksOffTheEventLoop && CommandProcessor.walksTheLog(arguments) {
                    walk = arguments
                    break
                }
                processor.execute(arguments, session: &session, out: &output)
            } catch {
                processor.shared.counters.protocolErrors.add(1, ordering: .relaxed)
                output.writeError(error.description)
                closing = true
                break
            }
        }
        self.decoder = decoder
        self.output = output
        self.session = session
        processor.shared.counters.commands.add(ran, ordering: .relaxed)
        if session.quit { closing = true }
        if buffer.readableBytes > 0 && !closing {
            buffer.discardReadBytes()
            input = buffer
        }
        if let walk { runOffTheEventLoop(walk, context: context) }
    }

    /// Runs a command that walks the whole log on ``ServerShared/slowWork``, holding this
    /// connection's later requests and every reply until it is done (replies stay in order); the
    /// other connections of the event loop go on meanwhile.
    private func runOffTheEventLoop(_ arguments: [[UInt8]], context: ChannelHandlerContext) {
        waiting = true
        let processor = self.processor
        let session = self.session
        let shared = processor.shared
        let eventLoop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: eventLoop)
        shared.counters.walksOffTheEventLoop.add(1, ordering: .relaxed)
        shared.slowWorkRunning.enter()
        shared.slowWork.async {
            var session = session
            var reply = ByteBuffer()
            processor.execute(arguments, session: &session, out: &reply)
            shared.slowWorkRunning.leave()  // the database is no longer in use
            let wrote = session.wrote
            let finished = reply
            eventLoop.execute {
                let (handler, context) = bound.value
                handler.waiting = false
                handler.output.writeImmutableBuffer(finished)
                handler.session.wrote = handler.session.wrote || wrote
                if context.channel.isActive && !handler.closing {
                    // Requests that arrived meanwhile, then the batch's replies.
                    handler.runRequests(context: context)
                    handler.finishBatch(context: context)
                    handler.resumeReading(context: context)
                }
            }
        }
    }

    /// Sends the batch's replies with one flush — after a sync when the batch wrote under
    /// ``ServerSyncMode/always`` — and closes the connection if it is closing.
    private func finishBatch(context: ChannelHandlerContext) {
        guard !waiting else { return }
        let wrote = session.wrote
        session.wrote = false
        if wrote, let groupCommit = processor.shared.groupCommit {
            waiting = true
            let replies = output
            output = context.channel.allocator.buffer(capacity: 4096)
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            groupCommit.waitDurable(on: context.eventLoop).whenComplete { result in
                let (handler, context) = bound.value
                handler.waiting = false
                switch result {
                case .success:
                    handler.send(replies, context: context)
                case .failure(let error):
                    // The replies promised durability that the sync did not give: none is sent.
                    var failure = context.channel.allocator.buffer(capacity: 256)
                    failure.writeError("ERR sync failed, replies withheld: \(error)")
                    handler.closing = true
                    handler.send(failure, context: context)
                }
                guard !handler.closing, context.channel.isActive else { return }
                // Requests that arrived during the sync.
                handler.runRequests(context: context)
                handler.finishBatch(context: context)
                handler.resumeReading(context: context)
            }
            return
        }
        let replies = output
        if replies.readableBytes > 0 { output = context.channel.allocator.buffer(capacity: 4096) }
        send(replies, context: context)
    }

    /// Writes and flushes `replies` (if any), then closes when closing.
    private func send(_ replies: ByteBuffer, context: ChannelHandlerContext) {
        if replies.readableBytes > 0 {
            if closing {
                let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
                context.writeAndFlush(wrapOutboundOut(replies)).whenComplete { _ in bound.value.close(promise: nil) }
            } else {
                context.writeAndFlush(wrapOutboundOut(replies), promise: nil)
            }
        } else if closing {
            context.close(promise: nil)
        }
    }
}

/// The handler of a connection beyond ``ServerConfiguration/maxClients``: answers Redis' error
/// and closes it.
final class RejectConnection: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    func channelActive(context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: 64)
        buffer.writeError("ERR max number of clients reached")
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { _ in bound.value.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}
