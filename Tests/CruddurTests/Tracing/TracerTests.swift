import Foundation
import Testing
import Tracing

@testable import CruddurTracing

@Suite("The tracer: W3C Trace Context, sampling, the bounded queue")
struct TracerTests {
    static let callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
    static let callerSpan = "00f067aa0ba902b7"

    private func tracer(
        _ sampler: TraceSampler = TraceSampler(followsParent: true, ratio: 1), capacity: Int = 100, batchSize: Int = 512,
        encoding: TraceSettings.Encoding = .json
    ) -> OTLPTracer {
        OTLPTracer(sampler: sampler, queue: SpanQueue(capacity: capacity, batchSize: batchSize, encoder: OTLPEncoder(encoding: encoding)))
    }

    /// The spans of the queue's next batch, as OTLP/JSON objects (the tracer's encoding must be JSON).
    private func nextBatch(_ tracer: OTLPTracer) throws -> [[String: Any]] {
        let batch = try #require(tracer.queue.takeBatch())
        let document = try #require(try JSONSerialization.jsonObject(with: Data(batch.body)) as? [String: Any])
        let resourceSpans = try #require((document["resourceSpans"] as? [[String: Any]])?.first)
        return try #require((resourceSpans["scopeSpans"] as? [[String: Any]])?.first?["spans"] as? [[String: Any]])
    }

    private func extracted(_ headers: [String: String], by tracer: OTLPTracer) -> ServiceContext {
        var context = ServiceContext.topLevel
        tracer.extract(headers, into: &context, using: DictionaryExtractor())
        return context
    }

    @Test("a well-formed traceparent is continued, with its tracestate; versions above 00 may append fields")
    func wellFormed() throws {
        let tracer = tracer()
        for traceParent in ["00-\(Self.callerTrace)-\(Self.callerSpan)-01", "01-\(Self.callerTrace)-\(Self.callerSpan)-09-future-field"] {
            let caller = try #require(
                SpanIdentity(extracted(["traceparent": traceParent, "tracestate": "congo=t61rcWkgMzE"], by: tracer)), "\(traceParent)")
            #expect(caller.traceID.description == Self.callerTrace)
            #expect(caller.spanID.description == Self.callerSpan)
            #expect(caller.sampled)
            #expect(caller.isRemote)
            #expect(caller.traceState == "congo=t61rcWkgMzE")
        }
        let unsampled = try #require(SpanIdentity(extracted(["traceparent": "00-\(Self.callerTrace)-\(Self.callerSpan)-00"], by: tracer)))
        #expect(!unsampled.sampled)
    }

    @Test(
        "a malformed traceparent is ignored: the request starts a trace of its own",
        arguments: [
            "", "00", "00-\(callerTrace)-\(callerSpan)-01-extra", // version 00 has exactly four fields
            "ff-\(callerTrace)-\(callerSpan)-01", // version ff is invalid
            "00-00000000000000000000000000000000-\(callerSpan)-01", // all-zero trace id
            "00-\(callerTrace)-0000000000000000-01", // all-zero span id
            "00-\(callerTrace.uppercased())-\(callerSpan)-01", // W3C ids are lowercase
            "00-\(callerTrace)-\(callerSpan)-0g", "00_\(callerTrace)_\(callerSpan)_01", "00-\(callerTrace.dropLast())-\(callerSpan)0-01",
            "00-\(callerTrace)-\(callerSpan)-01 ",
        ])
    func malformed(traceParent: String) {
        #expect(SpanIdentity(extracted(["traceparent": traceParent], by: tracer())) == nil)
    }

    @Test("a tracestate that is not printable ASCII within 512 characters is dropped, the traceparent kept")
    func implausibleTraceState() throws {
        let traceParent = "00-\(Self.callerTrace)-\(Self.callerSpan)-01"
        for state in [String(repeating: "a", count: 513), "a=b\u{7}", "a=é"] {
            let caller = try #require(SpanIdentity(extracted(["traceparent": traceParent, "tracestate": state], by: tracer())))
            #expect(caller.traceState == nil)
        }
    }

    @Test("a child keeps the trace id and tracestate, gets its own span id, and is injected as traceparent")
    func childAndInjection() throws {
        let tracer = tracer()
        let parent = extracted(
            ["traceparent": "00-\(Self.callerTrace)-\(Self.callerSpan)-01", "tracestate": "congo=t61rcWkgMzE"], by: tracer)
        let span = tracer.startSpan("GET /api/activities/home", context: parent, ofKind: .server)
        #expect(span.identity.traceID.description == Self.callerTrace)
        #expect(span.identity.spanID.description != Self.callerSpan)
        #expect(span.parentSpanID?.description == Self.callerSpan)
        var carrier: [String: String] = [:]
        tracer.inject(span.context, into: &carrier, using: DictionaryInjector())
        #expect(carrier["traceparent"] == "00-\(Self.callerTrace)-\(span.identity.spanID)-01")
        #expect(carrier["tracestate"] == "congo=t61rcWkgMzE")
        span.end()
        span.end()
        #expect(tracer.queue.accepted == 1 && tracer.queue.count == 1, "a span is exported once, however often it is ended")
    }

    @Test("parent-based sampling follows the caller; a ratio samples that share of new traces; unsampled spans record nothing")
    func sampling() {
        let parentBased = tracer(TraceSampler(followsParent: true, ratio: 1))
        let unsampledCaller = extracted(["traceparent": "00-\(Self.callerTrace)-\(Self.callerSpan)-00"], by: parentBased)
        let span = parentBased.startSpan("child", context: unsampledCaller, ofKind: .server)
        #expect(!span.isRecording)
        span.updateAttributes { $0["never"] = "set" }
        span.end()
        #expect(parentBased.queue.count == 0)
        var carrier: [String: String] = [:]
        parentBased.inject(span.context, into: &carrier, using: DictionaryInjector())
        #expect(carrier["traceparent"]?.hasSuffix("-00") == true, "an unsampled span still propagates, as unsampled")

        let quarter = tracer(TraceSampler(followsParent: false, ratio: 0.25), capacity: 10_000)
        for _ in 0..<4000 { quarter.startSpan("root", context: .topLevel, ofKind: .internal).end() }
        #expect((800...1200).contains(quarter.queue.count), "\(quarter.queue.count) of 4000 sampled at 0.25")

        let off = tracer(TraceSampler(followsParent: false, ratio: 0))
        let sampledCaller = extracted(["traceparent": "00-\(Self.callerTrace)-\(Self.callerSpan)-01"], by: off)
        off.startSpan("ignores the caller", context: sampledCaller, ofKind: .server).end()
        #expect(off.queue.count == 0)
    }

    @Test("the queue holds at most its capacity; the rest are dropped and counted, and batches leave oldest first")
    func boundedQueue() throws {
        let tracer = tracer(capacity: 5, batchSize: 2)
        for index in 0..<8 { tracer.startSpan("span \(index)", context: .topLevel, ofKind: .internal).end() }
        #expect(tracer.queue.count == 5)
        #expect(tracer.queue.dropped == 3)
        #expect(try nextBatch(tracer).map { $0["name"] as? String } == ["span 0", "span 1"])
        #expect(try nextBatch(tracer).map { $0["name"] as? String } == ["span 2", "span 3"])
        #expect(try nextBatch(tracer).map { $0["name"] as? String } == ["span 4"])
        #expect(tracer.queue.count == 0)
        #expect(tracer.queue.takeBatch() == nil)
        // What a flush waits for: the n-th accepted span has left once a finished batch reached n.
        #expect(tracer.queue.accepted == 5)
        for index in 0..<3 { tracer.startSpan("later \(index)", context: .topLevel, ofKind: .internal).end() }
        #expect(tracer.queue.accepted == 8)
        let first = try #require(tracer.queue.takeBatch())
        #expect(first.count == 2 && first.through == 7)
        let second = try #require(tracer.queue.takeBatch())
        #expect(second.count == 1 && second.through == 8)
    }

    @Test("a leaf span is held by its running parent and encoded just before it, with its attributes; none under an unsampled parent")
    func leafSpans() throws {
        let tracer = tracer()
        let parent = tracer.startSpan("GET", context: .topLevel, ofKind: .server)
        tracer.recordLeafSpan(
            "feed cache", ofKind: .internal, in: parent.context, ("cruddur.feed_cache.hit", .bool(true)), ("cruddur.feed_cache.limit", .int(20)))
        #expect(tracer.queue.count == 0, "held by its parent until the parent ends")
        // A parent holds one: a second leaf is encoded at once.
        tracer.recordLeafSpan("second", ofKind: .internal, in: parent.context, ("cruddur.index", .int(2)))
        #expect(tracer.queue.count == 1)
        parent.end()
        // An ended parent holds nothing either.
        tracer.recordLeafSpan("after the end", ofKind: .internal, in: parent.context, ("cruddur.index", .int(3)))
        let unsampledCaller = extracted(["traceparent": "00-\(Self.callerTrace)-\(Self.callerSpan)-00"], by: tracer)
        tracer.recordLeafSpan("feed cache", ofKind: .internal, in: unsampledCaller, ("cruddur.feed_cache.hit", .bool(false)))
        let spans = try nextBatch(tracer)
        #expect(spans.map { $0["name"] as? String } == ["second", "feed cache", "GET", "after the end"])
        for leaf in [spans[0], spans[1], spans[3]] {
            #expect(leaf["parentSpanId"] as? String == parent.identity.spanID.description)
            #expect(leaf["traceId"] as? String == parent.identity.traceID.description)
            #expect(leaf["spanId"] as? String != parent.identity.spanID.description)
            #expect(leaf["startTimeUnixNano"] as? String == leaf["endTimeUnixNano"] as? String)
        }
        #expect(Set(spans.map { $0["spanId"] as? String }).count == 4)
        let attributes = try #require(spans[1]["attributes"] as? [[String: Any]])
        #expect(attributes.map { $0["key"] as? String } == ["cruddur.feed_cache.hit", "cruddur.feed_cache.limit"])
        #expect((attributes[0]["value"] as? [String: Any])?["boolValue"] as? Bool == true)
        #expect((attributes[1]["value"] as? [String: Any])?["intValue"] as? String == "20")
    }

    @Test("a parent and its held leaf keep the batch size and the capacity: split across batches, or both dropped and counted")
    func heldLeafLimits() throws {
        let tracer = tracer(capacity: 4, batchSize: 2)
        tracer.startSpan("first", context: .topLevel, ofKind: .internal).end()
        let parent = tracer.startSpan("parent", context: .topLevel, ofKind: .server)
        tracer.recordLeafSpan("leaf", ofKind: .internal, in: parent.context, ("cruddur.index", .int(1)))
        parent.end()
        // One place left: a parent and its leaf are dropped together, never the parent alone.
        let full = tracer.startSpan("parent of a full queue", context: .topLevel, ofKind: .server)
        tracer.recordLeafSpan("leaf of a full queue", ofKind: .internal, in: full.context, ("cruddur.index", .int(2)))
        full.end()
        #expect(tracer.queue.count == 3)
        tracer.startSpan("fourth", context: .topLevel, ofKind: .internal).end()
        #expect(tracer.queue.count == 4)
        #expect(tracer.queue.dropped == 2)
        #expect(try nextBatch(tracer).map { $0["name"] as? String } == ["first", "leaf"])
        #expect(try nextBatch(tracer).map { $0["name"] as? String } == ["parent", "fourth"])
        #expect(tracer.queue.takeBatch() == nil)
    }

    @Test("an error is recorded by its type only: its text may hold values")
    func recordedError() throws {
        struct Refused: Error, CustomStringConvertible { var description: String { "handle bayko is taken" } }
        let tracer = tracer()
        let span = tracer.startSpan("post", context: .topLevel, ofKind: .server)
        span.recordError(Refused())
        span.end()
        #expect(tracer.queue.count == 1)
        let exported = try nextBatch(tracer)
        #expect(!"\(exported)".contains("bayko"))
        let events = try #require(exported.first?["events"] as? [[String: Any]])
        #expect(events.map { $0["name"] as? String } == ["exception"])
        let type = try #require((events.first?["attributes"] as? [[String: Any]])?.first)
        #expect(type["key"] as? String == "exception.type")
        #expect(((type["value"] as? [String: Any])?["stringValue"] as? String)?.contains("Refused") == true)
    }
}

extension TracerTests {
    @Test("OTLP/JSON escapes what JSON requires: quotes, backslashes and control characters come back as they were")
    func jsonEscaping() throws {
        let tracer = tracer()
        let text = "a \"quoted\" \\ path\u{01}\u{1F}\n\té"
        let span = tracer.startSpan("escape \u{02}", context: .topLevel, ofKind: .internal)
        span.record("cruddur.text", .string(text))
        span.end()
        let exported = try #require(try nextBatch(tracer).first)
        #expect(exported["name"] as? String == "escape \u{02}")
        let attribute = try #require((exported["attributes"] as? [[String: Any]])?.first)
        #expect((attribute["value"] as? [String: Any])?["stringValue"] as? String == text)
    }
}

private struct DictionaryExtractor: Extractor {
    func extract(key: String, from carrier: [String: String]) -> String? { carrier[key] }
}

private struct DictionaryInjector: Injector {
    func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) { carrier[key] = value }
}

extension TracerTests {
    @Test("a large protobuf batch is framed exactly: every length (up to three-byte varints) covers its message, spans intact")
    func protobufFraming() throws {
        let tracer = tracer(capacity: 1000, batchSize: 1000, encoding: .protobuf)
        let padding = String(repeating: "p", count: 150)
        for index in 0..<300 {
            let span = tracer.startSpan("span \(index)", context: .topLevel, ofKind: .internal)
            span.record("cruddur.padding", .string(padding))
            span.record("cruddur.index", .int(Int64(index)))
            span.end()
        }
        // Events, array values and a status message take the general writer.
        let general = tracer.startSpan("general", context: .topLevel, ofKind: .client)
        general.addEvent(SpanEvent(name: "retry", attributes: ["cruddur.padding": .string(padding)]))
        general.record("cruddur.list", .array([.int(1), .int(2)]))
        general.setStatus(SpanStatus(code: .error, message: "refused"))
        general.end()
        let server = tracer.startSpan("GET", context: .topLevel, ofKind: .server)
        server.end(
            serving: HTTPServerAttributes(
                method: "GET", path: "/api/activities/home", requestID: "r-1", route: "/api/activities/home", statusCode: 503))
        let body = try #require(tracer.queue.takeBatch()).body
        #expect(body.count > 16_384, "the batch needs a three-byte length")

        let request = try ProtobufFields.parse(body[...])
        #expect(request.map(\.field) == [1])
        let resourceSpans = try ProtobufFields.parse(request[0].payload)
        #expect(resourceSpans.map(\.field) == [1, 2])
        let scopeSpans = try ProtobufFields.parse(resourceSpans[1].payload)
        let spans = scopeSpans.filter { $0.field == 2 }
        #expect(spans.count == 302)
        for (index, span) in spans.prefix(300).enumerated() {
            let fields = try ProtobufFields.parse(span.payload)
            #expect(fields.first { $0.field == 5 }.map { String(decoding: $0.payload, as: UTF8.self) } == "span \(index)")
            #expect(fields.filter { $0.field == 9 }.count == 2)
        }
        let generalFields = try ProtobufFields.parse(spans[300].payload)
        #expect(generalFields.first { $0.field == 5 }.map { String(decoding: $0.payload, as: UTF8.self) } == "general")
        let event = try ProtobufFields.parse(try #require(generalFields.first { $0.field == 11 }, "the event").payload)
        #expect(event.first { $0.field == 2 }.map { String(decoding: $0.payload, as: UTF8.self) } == "retry")
        #expect(generalFields.filter { $0.field == 9 }.count == 1, "the array attribute")
        let generalStatus = try ProtobufFields.parse(try #require(generalFields.first { $0.field == 15 }).payload)
        #expect(generalStatus.first.map { String(decoding: $0.payload, as: UTF8.self) } == "refused")
        let serverFields = try ProtobufFields.parse(spans[301].payload)
        #expect(serverFields.first { $0.field == 5 }.map { String(decoding: $0.payload, as: UTF8.self) } == "GET /api/activities/home")
        let keys = try serverFields.filter { $0.field == 9 }.map { try ProtobufFields.parse($0.payload)[0].payload }
        #expect(
            keys.map { String(decoding: $0, as: UTF8.self) } == [
                "http.request.method", "url.scheme", "url.path", "network.protocol.version", "cruddur.request_id", "http.route",
                "http.response.status_code", "error.type",
            ])
        let status = try #require(serverFields.first { $0.field == 15 })
        #expect(Array(status.payload) == [0x18, 0x02], "a 5xx server span has status ERROR")
    }
}

/// Just enough of protobuf's wire format to walk a message's fields, checking that every length fits.
private enum ProtobufFields {
    struct Field {
        var field: UInt64
        var payload: ArraySlice<UInt8>
    }

    struct Malformed: Error {}

    static func parse(_ bytes: ArraySlice<UInt8>) throws -> [Field] {
        var fields: [Field] = []
        var index = bytes.startIndex
        func varint() throws -> UInt64 {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                guard index < bytes.endIndex, shift < 64 else { throw Malformed() }
                let byte = bytes[index]
                index += 1
                value |= UInt64(byte & 0x7F) << shift
                if byte & 0x80 == 0 { return value }
                shift += 7
            }
        }
        while index < bytes.endIndex {
            let key = try varint()
            let start = index
            switch key & 7 {
            case 0: _ = try varint()
            case 1: index += 8
            case 5: index += 4
            case 2:
                let length = Int(try varint())
                guard length <= bytes.endIndex - index else { throw Malformed() }
                fields.append(Field(field: key >> 3, payload: bytes[index..<index + length]))
                index += length
                continue
            default: throw Malformed()
            }
            guard index <= bytes.endIndex else { throw Malformed() }
            fields.append(Field(field: key >> 3, payload: bytes[start..<index]))
        }
        return fields
    }
}
