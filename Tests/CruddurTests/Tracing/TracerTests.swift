import Foundation
import Testing
import Tracing

@testable import CruddurTracing

@Suite("The tracer: W3C Trace Context, sampling, the bounded queue")
struct TracerTests {
    static let callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
    static let callerSpan = "00f067aa0ba902b7"

    private func tracer(_ sampler: TraceSampler = TraceSampler(followsParent: true, ratio: 1), capacity: Int = 100) -> OTLPTracer {
        OTLPTracer(sampler: sampler, queue: SpanQueue(capacity: capacity))
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
        #expect(tracer.queue.take(upTo: 10).count == 1, "a span is exported once, however often it is ended")
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
    func boundedQueue() {
        let tracer = tracer(capacity: 5)
        for index in 0..<8 { tracer.startSpan("span \(index)", context: .topLevel, ofKind: .internal).end() }
        #expect(tracer.queue.count == 5)
        #expect(tracer.queue.dropped == 3)
        #expect(tracer.queue.take(upTo: 2).map(\.name) == ["span 0", "span 1"])
        #expect(tracer.queue.take(upTo: 10).map(\.name) == ["span 2", "span 3", "span 4"])
        #expect(tracer.queue.count == 0)
        // What a flush waits for: the n-th accepted span has left once a finished batch reached n.
        #expect(tracer.queue.accepted == 5)
        for index in 0..<3 { tracer.startSpan("later \(index)", context: .topLevel, ofKind: .internal).end() }
        #expect(tracer.queue.accepted == 8)
        let first = tracer.queue.takeBatch(upTo: 2)
        #expect(first.spans.map(\.name) == ["later 0", "later 1"] && first.through == 7)
        let second = tracer.queue.takeBatch(upTo: 2)
        #expect(second.spans.map(\.name) == ["later 2"] && second.through == 8)
        #expect(tracer.queue.takeBatch(upTo: 2).through == 8)
    }

    @Test("an error is recorded by its type only: its text may hold values")
    func recordedError() throws {
        struct Refused: Error, CustomStringConvertible { var description: String { "handle bayko is taken" } }
        let tracer = tracer()
        let span = tracer.startSpan("post", context: .topLevel, ofKind: .server)
        span.recordError(Refused())
        span.end()
        let finished = try #require(tracer.queue.take(upTo: 1).first)
        #expect(finished.events.map(\.name) == ["exception"])
        let type = try #require(finished.events.first?.attributes.get("exception.type"))
        #expect("\(type)".contains("Refused"))
        #expect(!"\(finished.events)".contains("bayko"))
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
        let settings = try #require(
            try TraceSettings.fromEnvironment(
                ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"], defaultServiceName: "t"))
        let body = OTLPEncoder(settings: settings).encode(tracer.queue.take(upTo: 1))
        let document = try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
        let resourceSpans = try #require((document["resourceSpans"] as? [[String: Any]])?.first)
        let exported = try #require(((resourceSpans["scopeSpans"] as? [[String: Any]])?.first?["spans"] as? [[String: Any]])?.first)
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
