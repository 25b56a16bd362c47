import CruddurTracing
import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Closes a connection whose request has not arrived whole (head and body) within the request timeout, with a
/// `408` when no response has started; the idle timer alone would restart on every trickled byte for ever.
///
/// The clock starts at a request's first byte: ``RequestStartWatcher`` sees the raw bytes ahead of the HTTP decoder,
/// this handler sees the decoded request's end and the response going out. Both run on the connection's event loop.
/// One timer per connection, armed lazily: it is not scheduled and cancelled per request (a kept-alive connection
/// serving thousands of requests a second keeps one pending timer, which re-arms itself for the current request).
final class RequestDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private enum State {
        /// Between requests: no bytes of the next one yet.
        case waiting
        /// Bytes of a request have arrived, its end has not.
        case receiving
        /// The request is whole; its response may still be going out.
        case received
    }

    private let timeout: TimeAmount
    private let requestIDs: IDGenerator
    private var state = State.waiting
    /// Whether the current request's response head has gone out (then no `408` can be written).
    private var responseStarted = false
    /// Whether the response to the last request has been written whole.
    private var responseEnded = true
    /// When the request now arriving started; nil between requests.
    private var requestStartedAt: NIODeadline?
    private var timer: Scheduled<Void>?

    init(timeout: TimeAmount, requestIDs: IDGenerator) {
        self.timeout = timeout
        self.requestIDs = requestIDs
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let watcher = RequestStartWatcher { [self] in requestBytesArrived(context: context) }
        try? context.pipeline.syncOperations.addHandler(watcher, position: .first)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    /// The first bytes of a request (or of the next one on a kept-alive connection) start its clock.
    func requestBytesArrived(context: ChannelHandlerContext) {
        guard case .waiting = state else { return }
        state = .receiving
        if responseEnded { responseStarted = false }
        let now = NIODeadline.now()
        requestStartedAt = now
        if timer == nil { arm(at: now + timeout, context: context) }
    }

    private func arm(at deadline: NIODeadline, context: ChannelHandlerContext) {
        timer = context.eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(deadline: deadline) { [self] in
            timer = nil
            // The timer may have been armed for an earlier request: wait on for the current one's deadline.
            guard case .receiving = state, let started = requestStartedAt else { return }
            if NIODeadline.now() < started + timeout {
                arm(at: started + timeout, context: context)
            } else {
                timedOut(context: context)
            }
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            // A pipelined request whose bytes came in with the previous one.
            if case .waiting = state { requestBytesArrived(context: context) }
        case .body:
            break
        case .end:
            requestStartedAt = nil
            state = .received
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head:
            responseStarted = true
            responseEnded = false
        case .body:
            break
        case .end:
            responseEnded = true
            if case .received = state {
                state = .waiting
                responseStarted = false
            }
        }
        context.write(data, promise: promise)
    }

    private func timedOut(context: ChannelHandlerContext) {
        if !responseStarted {
            let body = ByteBuffer(
                string: #"{"error":"request_timeout","message":"The request did not arrive whole in time; the connection is closed."}"#)
            let head = HTTPResponse(
                status: .requestTimeout,
                headerFields: [
                    .contentType: "application/json; charset=utf-8", .contentLength: String(body.readableBytes), .connection: "close",
                    .xContentTypeOptions: "nosniff", .cacheControl: "no-store", .xRequestID: requestIDs.hex128(),
                ]
            )
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.write(wrapOutboundOut(.body(body)), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
        context.close(promise: nil)
    }
}

/// Sits first in the pipeline and reports each read of raw bytes to ``RequestDeadlineHandler``.
final class RequestStartWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let bytesArrived: () -> Void

    init(bytesArrived: @escaping () -> Void) {
        self.bytesArrived = bytesArrived
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        bytesArrived()
        context.fireChannelRead(data)
    }
}
