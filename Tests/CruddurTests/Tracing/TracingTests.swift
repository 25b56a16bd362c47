import CruddurDatabase
import CruddurTracing
import Foundation
import Testing

@Suite("OpenTelemetry traces over OTLP/HTTP, decoded with opentelemetry-proto", .serialized)
struct TracingTests {
    static let callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
    static let callerSpan = "00f067aa0ba902b7"

    @Test(
        "one server span per request named by route template, child spans for the cache and each database call, the caller's trace continued, no values",
        arguments: ["http/protobuf", "http/json"])
    func spansOfRequests(encoding: String) async throws {
        let receiver = try await OTLPReceiver.start()
        defer { receiver.stop() }
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        let server = try await LocalServer.start(
            database: database,
            environment: [
                "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": encoding, "OTEL_BSP_SCHEDULE_DELAY": "100",
                "OTEL_EXPORTER_OTLP_HEADERS": "x-honeycomb-team=canary-team-key-5b1f", "FEED_CACHE": "on", "LOG_FORMAT": "json",
                "POST_RATE_LIMIT": "off",
            ])
        defer { server.process.signal(SIGTERM) }
        let base = server.base

        let first = try await HTTP.request(
            "GET", base + "/api/activities/home?limit=1",
            headers: [
                ("traceparent", "00-\(Self.callerTrace)-\(Self.callerSpan)-01"), ("tracestate", "congo=t61rcWkgMzE"),
                ("X-Request-Id", "trace-test-1"),
            ])
        #expect(first.status == 200)
        let link = try #require(first.headers.first { $0.0.lowercased() == "link" }?.1)
        let next = try #require(nextLink(link))
        let cursor = try #require(next.split(separator: "cursor=").last.map(String.init))
        #expect(try await HTTP.request("GET", base + next).status == 200)
        let message = "a traced post 7c1d-canary"
        let post = try await HTTP.request(
            "POST", base + "/api/activities", body: #"{"user_handle":"bayko","message":"\#(message)","ttl":"1-day"}"#)
        #expect(post.status == 200, "\(post.body)")
        #expect(try await HTTP.request("GET", base + "/no/such/path").status == 404)

        let expectedServerSpans: Set = ["GET /api/activities/home", "POST /api/activities", "GET (unmatched)", "GET /api/health"]
        let spans = await receiver.spans(within: .seconds(30)) { spans in
            Set(spans.filter { $0.kind == "SERVER" }.map(\.name)) == expectedServerSpans
                && spans.filter { $0.name.hasPrefix("cruddur_home_feed") }.count >= 2 && spans.contains { $0.name == "cruddur_create_activity" }
        }
        let servers = spans.filter { $0.kind == "SERVER" }
        #expect(Set(servers.map(\.name)) == expectedServerSpans, "\(servers.map(\.name))")

        // The caller's trace: its span is the parent; the cache's decision and the query are children.
        let home = try #require(servers.first { $0.traceID == Self.callerTrace }, "\(servers)")
        #expect(home.parentSpanID == Self.callerSpan)
        #expect(home.traceState == "congo=t61rcWkgMzE")
        #expect(home.name == "GET /api/activities/home")
        #expect(home.attributes["http.request.method"] == "GET")
        #expect(home.attributes["http.route"] == "/api/activities/home")
        #expect(home.attributes["http.response.status_code"] == "200")
        #expect(home.attributes["url.scheme"] == "http")
        #expect(home.attributes["cruddur.request_id"] == "trace-test-1")
        #expect(home.statusCode == "UNSET")
        #expect(home.resource["service.name"] == "cruddur")
        let children = spans.filter { $0.parentSpanID == home.spanID }
        let cache = try #require(children.first { $0.name == "feed cache" }, "\(children)")
        #expect(cache.attributes["cruddur.feed_cache.hit"] == "false")
        let query = try #require(children.first { $0.name == "cruddur_home_feed_first_page" }, "\(children)")
        #expect(query.kind == "CLIENT")
        #expect(query.traceID == Self.callerTrace)
        #expect(query.traceState == "congo=t61rcWkgMzE")
        #expect(query.attributes["db.system.name"] == "postgresql")
        #expect(query.attributes["db.operation.name"] == "reading the home feed")
        #expect(query.attributes["db.query.summary"] == "cruddur_home_feed_first_page")

        // The deep page: the same name (the route template), and its own trace; the cursor is nowhere.
        let deep = try #require(servers.first { $0.name == "GET /api/activities/home" && $0.traceID != Self.callerTrace })
        #expect(spans.contains { $0.parentSpanID == deep.spanID && $0.name == "cruddur_home_feed_after_cursor" })
        let posted = try #require(servers.first { $0.name == "POST /api/activities" })
        #expect(spans.contains { $0.parentSpanID == posted.spanID && $0.name == "cruddur_create_activity" })
        for span in spans {
            for (key, value) in span.attributes {
                #expect(!value.contains(cursor) && !value.contains(message) && !value.contains("bayko"), "\(span.name): \(key)=\(value)")
            }
        }

        // The exporter's own requests are not traced (each would be another span to export).
        #expect(!spans.contains { span in span.kind == "CLIENT" && span.attributes.keys.contains { $0.hasPrefix("http.") } })

        // Each export carried the configured header and the chosen encoding.
        let requests = receiver.requests()
        #expect(!requests.isEmpty)
        for request in requests {
            #expect(request["path"] as? String == "/v1/traces")
            #expect(request["content_type"] as? String == (encoding == "http/json" ? "application/json" : "application/x-protobuf"))
            #expect((request["headers"] as? [String: String])?["x-honeycomb-team"] == "canary-team-key-5b1f")
        }

        // JSON logs: the access line of the caller's request has its request id and trace id; the header's secret
        // value is in no log line.
        let output = server.process.output
        #expect(!output.contains("canary-team-key-5b1f"))
        let lines = output.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        let access = try #require(lines.first { $0["logger"] as? String == "cruddur.access" && $0["request_id"] as? String == "trace-test-1" })
        #expect(access["trace_id"] as? String == Self.callerTrace)
    }

    @Test("a 5xx answer is an error span, and so is the database call that failed (by its SQLSTATE or kind, never its message)")
    func errorSpans() async throws {
        let receiver = try await OTLPReceiver.start()
        defer { receiver.stop() }
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        let server = try await LocalServer.start(
            database: database,
            environment: ["OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "100", "LOG_FORMAT": "json"])
        defer { server.process.signal(SIGTERM) }
        // The database goes away under the running server: its connections end, and the feed cannot be read.
        try await DatabaseAdministration(logger: TestPostgres.logger).drop(database)
        var status = 0
        for _ in 0..<20 where status != 503 {
            status = try await HTTP.request("GET", server.base + "/api/activities/home?limit=3").status
        }
        #expect(status == 503)
        let spans = await receiver.spans(within: .seconds(20)) { spans in
            spans.contains { $0.name == "GET /api/activities/home" && $0.statusCode == "ERROR" }
        }
        let failed = try #require(spans.first { $0.name == "GET /api/activities/home" && $0.statusCode == "ERROR" }, "\(spans.map(\.name))")
        #expect(failed.attributes["http.response.status_code"] == "503")
        #expect(failed.attributes["error.type"] == "503")
        let query = try #require(spans.first { $0.parentSpanID == failed.spanID && $0.name == "cruddur_home_feed_first_page" })
        #expect(query.statusCode == "ERROR")
        let errorType = try #require(query.attributes["error.type"])
        #expect(errorType == "unavailable" || errorType.count == 5, "\(errorType)")
        // The request's own log line (the warning) carries its trace id, as its access line does.
        let lines = server.process.output.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        let warning = try #require(lines.first { $0["message"] as? String == "Database unavailable" }, "\(server.process.output)")
        let requestID = try #require(warning["request_id"] as? String)
        let traceID = try #require(warning["trace_id"] as? String)
        #expect(spans.contains { $0.traceID == traceID && $0.kind == "SERVER" })
        let access = lines.filter { $0["logger"] as? String == "cruddur.access" && $0["request_id"] as? String == requestID }
        #expect(access.count == 1 && access.first?["trace_id"] as? String == traceID)
        #expect(!lines.contains { $0["logger"] as? String == "cruddur" && $0["request_id"] == nil && $0["trace_id"] != nil })
    }

    @Test(
        "a collector that is down, hangs or fails: every request answers at once; failures and drops are counted",
        arguments: ["down", "hang", "fail"])
    func collectorTrouble(trouble: String) async throws {
        var receiver: OTLPReceiver?
        let endpoint: String
        switch trouble {
        case "hang": receiver = try await OTLPReceiver.start(mode: .hang)
        case "fail": receiver = try await OTLPReceiver.start(mode: .fail)
        default: break
        }
        defer { receiver?.stop() }
        endpoint = try receiver?.endpoint ?? "http://127.0.0.1:\(freePort())"
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        let metricsPort = try freePort()
        let server = try await LocalServer.start(
            database: database,
            environment: [
                "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_BSP_SCHEDULE_DELAY": "50", "OTEL_BSP_MAX_QUEUE_SIZE": "64",
                "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "16", "OTEL_BSP_EXPORT_TIMEOUT": "1000",
                "METRICS_PORT": "\(metricsPort)", "ACCESS_LOG": "off",
            ])
        defer { server.process.signal(SIGTERM) }
        // The same requests to an untraced server, in turn: a stall of this loaded machine shows in both, the
        // collector's trouble only in the traced one.
        let control = try await LocalServer.start(database: database, environment: ["ACCESS_LOG": "off"])
        defer { control.process.signal(SIGTERM) }

        var durations: [Duration] = []
        var controlDurations: [Duration] = []
        for round in 0..<300 {
            let path = round % 2 == 0 ? "/api/activities/home" : "/api/health"
            let started = ContinuousClock.now
            let reply = try await HTTP.request("GET", server.base + path)
            #expect(reply.status == 200)
            durations.append(.now - started)
            let controlStarted = ContinuousClock.now
            _ = try await HTTP.request("GET", control.base + path)
            controlDurations.append(.now - controlStarted)
        }
        // A collector's trouble on the request path would hold up every request while a batch is stuck (a hanging
        // collector holds each batch for the 1 s export timeout): many slow requests. A stall of this loaded machine
        // hits a request or two, on either server; so the bounds are on the many, with the control's as the baseline.
        durations.sort()
        controlDurations.sort()
        let slow = durations.filter { $0 > .milliseconds(250) }.count
        let slowControl = controlDurations.filter { $0 > .milliseconds(250) }.count
        let summary = "slowest \(durations.suffix(5)), untraced server's slowest \(controlDurations.suffix(5))"
        #expect(slow <= slowControl + 5, "\(slow) requests over 250 ms (untraced server: \(slowControl)); \(summary)")
        #expect(durations[297] < max(.seconds(1), controlDurations[297] + .milliseconds(500)), "99th percentile: \(summary)")
        #expect(durations[150] < controlDurations[150] * 2 + .milliseconds(20), "median: \(summary)")
        #expect(durations[299] < .seconds(5), "no request waits for the collector: \(summary)")

        // Every batch fails (refused, 503 retried past OTEL_BSP_EXPORT_TIMEOUT, or unanswered): counted, and while a
        // batch hangs the queue fills and further spans are dropped, also counted.
        func counter(_ line: String, in scrape: String) -> Double {
            scrape.split(separator: "\n").first { $0.hasPrefix(line + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
        }
        var failed = 0.0
        var dropped = 0.0
        let deadline = ContinuousClock.now + .seconds(20)
        while failed == 0 || (trouble == "hang" && dropped == 0), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(200))
            let scrape = try await HTTP.request("GET", "http://127.0.0.1:\(metricsPort)/metrics").body
            failed = counter(#"cruddur_trace_export_batches_total{outcome="error"}"#, in: scrape)
            dropped = counter("cruddur_trace_spans_dropped_total", in: scrape)
        }
        #expect(failed > 0)
        if trouble == "hang" { #expect(dropped > 0) }
        // A failing collector is one warning per failure streak, not one per batch.
        let warnings = server.process.output.split(separator: "\n").filter { $0.contains("Failed to export batch") }
        #expect(warnings.count <= 1, "\(warnings)")
    }

    @Test("a collector that refuses a batch as transient (503, Retry-After) gets it again: every span arrives, no batch counts as failed")
    func transientRefusals() async throws {
        let receiver = try await OTLPReceiver.start(mode: .flaky)
        defer { receiver.stop() }
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        let metricsPort = try freePort()
        let server = try await LocalServer.start(
            database: database,
            environment: [
                "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "50", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "4",
                "METRICS_PORT": "\(metricsPort)", "ACCESS_LOG": "off",
            ])
        defer { server.process.signal(SIGTERM) }
        for index in 0..<20 {
            #expect(try await HTTP.request("GET", server.base + "/api/activities/home?limit=\(index + 1)").status == 200)
        }
        let spans = await receiver.spans(within: .seconds(30)) { spans in
            spans.filter { $0.name == "GET /api/activities/home" }.count >= 20
        }
        #expect(spans.filter { $0.name == "GET /api/activities/home" }.count == 20)
        #expect(receiver.requests().contains { $0["refused"] as? Bool == true })
        let scrape = try await HTTP.request("GET", "http://127.0.0.1:\(metricsPort)/metrics").body
        #expect(scrape.contains(#"cruddur_trace_export_batches_total{outcome="error"} 0"#), "\(scrape)")
    }

    @Test("at graceful shutdown the queued spans leave before the process exits, however long the schedule delay")
    func flushAtShutdown() async throws {
        let receiver = try await OTLPReceiver.start()
        defer { receiver.stop() }
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        let server = try await LocalServer.start(
            database: database,
            environment: ["OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "600000", "ACCESS_LOG": "off"])
        for _ in 0..<5 {
            #expect(try await HTTP.request("GET", server.base + "/api/activities/home").status == 200)
        }
        #expect(receiver.spans().isEmpty, "nothing leaves before the delay")
        server.process.signal(SIGTERM)
        #expect(await server.process.waitForExit(timeout: .seconds(30)) == 0)
        #expect(receiver.spans().filter { $0.name == "GET /api/activities/home" }.count == 5)
    }

    @Test("the OTEL_* settings: off without an endpoint; the endpoint, encoding and service name; bad values are one clear line")
    func settings() throws {
        #expect(try TraceSettings.fromEnvironment([:], defaultServiceName: "cruddur") == nil)
        #expect(try TraceSettings.fromEnvironment(["OTEL_SERVICE_NAME": "x"], defaultServiceName: "cruddur") == nil)
        let base = ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"]
        let on = try #require(try TraceSettings.fromEnvironment(base, defaultServiceName: "cruddur"))
        #expect(on.tracesURL == "http://collector:4318/v1/traces")
        #expect(on.encoding == .protobuf)
        #expect(on.serviceName == "cruddur")
        let specific = try #require(
            try TraceSettings.fromEnvironment(
                [
                    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://api.honeycomb.io/v1/traces", "OTEL_SERVICE_NAME": "backend-flask",
                    "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json", "OTEL_EXPORTER_OTLP_HEADERS": "x-honeycomb-team=abc%20def,x-other=1",
                ],
                defaultServiceName: "cruddur"))
        #expect(specific.tracesURL == "https://api.honeycomb.io/v1/traces")
        #expect(specific.serviceName == "backend-flask")
        #expect(specific.encoding == .json)
        #expect(specific.headerNames == ["x-honeycomb-team", "x-other"])
        let tuned = try #require(
            try TraceSettings.fromEnvironment(
                base.merging([
                    "OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1", "OTEL_BSP_MAX_QUEUE_SIZE": "100",
                    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "512", "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=prod,team=a%2Cb",
                ]) { $1 }, defaultServiceName: "cruddur"))
        #expect(tuned.sampler == TraceSampler(followsParent: true, ratio: 0.1))
        #expect(tuned.maxQueueSize == 100 && tuned.maxExportBatchSize == 100, "a batch is at most the queue")
        #expect(tuned.resourceAttributes == ["deployment.environment": "prod", "team": "a,b"])
        #expect(on.sampler == TraceSampler(followsParent: true, ratio: 1))
        #expect(on.scheduleDelay == nil && on.exportTimeout == .seconds(30) && on.requestTimeout == .seconds(10))
        // Printed whole (as a service description or in a debug dump), the settings never show a header's value.
        for printed in ["\(specific)", String(reflecting: specific), "\([specific])"] {
            #expect(!printed.contains("abc") && printed.contains("x-honeycomb-team"), "\(printed)")
        }
        #expect(try TraceSettings.fromEnvironment(base.merging(["OTEL_SDK_DISABLED": "true"]) { $1 }, defaultServiceName: "c") == nil)
        #expect(try TraceSettings.fromEnvironment(base.merging(["OTEL_TRACES_EXPORTER": "none"]) { $1 }, defaultServiceName: "c") == nil)

        let refused: [([String: String], String)] = [
            (
                ["OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"],
                "OTEL_EXPORTER_OTLP_PROTOCOL 'grpc' must be http/protobuf or http/json (this build exports over HTTP only)"
            ),
            (["OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"], "OTEL_EXPORTER_OTLP_ENDPOINT 'collector:4318' must be an http:// or https:// URL"),
            (["OTEL_EXPORTER_OTLP_ENDPOINT": "http://"], "must be an http:// or https:// URL with a host"),
            (["OTEL_TRACES_SAMPLER": "sometimes"], "OTEL_TRACES_SAMPLER 'sometimes' must be always_off, always_on"),
            (["OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "2"], "OTEL_TRACES_SAMPLER_ARG '2' must be a ratio from 0 to 1"),
            (["OTEL_BSP_SCHEDULE_DELAY": "5s"], "OTEL_BSP_SCHEDULE_DELAY '5s' must be milliseconds"),
            (["OTEL_BSP_MAX_QUEUE_SIZE": "0"], "OTEL_BSP_MAX_QUEUE_SIZE '0' must be a whole number"),
            (["OTEL_SDK_DISABLED": "yes"], "OTEL_SDK_DISABLED 'yes' must be true or false"),
            (["OTEL_TRACES_EXPORTER": "zipkin"], "OTEL_TRACES_EXPORTER 'zipkin' must be otlp or none"),
            (["OTEL_EXPORTER_OTLP_COMPRESSION": "gzip"], "OTEL_EXPORTER_OTLP_COMPRESSION 'gzip' must be none"),
            (["OTEL_PROPAGATORS": "tracecontext,b3"], "OTEL_PROPAGATORS 'tracecontext,b3' must be tracecontext"),
            (["OTEL_RESOURCE_ATTRIBUTES": "deployment.environment"], "OTEL_RESOURCE_ATTRIBUTES 'deployment.environment' must be key=value"),
            (["OTEL_EXPORTER_OTLP_TIMEOUT": "-1"], "OTEL_EXPORTER_OTLP_TIMEOUT '-1' must be milliseconds"),
        ]
        for (overrides, expected) in refused {
            #expect {
                _ = try TraceSettings.fromEnvironment(base.merging(overrides) { $1 }, defaultServiceName: "cruddur")
            } throws: { error in
                "\(error)".contains(expected)
            }
        }
        // A malformed header list is refused without repeating it: its values are secrets.
        #expect {
            _ = try TraceSettings.fromEnvironment(
                base.merging(["OTEL_EXPORTER_OTLP_HEADERS": "x-honeycomb-team:secret-value"]) { $1 }, defaultServiceName: "cruddur")
        } throws: { error in
            "\(error)" == "OTEL_EXPORTER_OTLP_HEADERS must be name=value pairs separated by commas (values percent-encoded)"
        }
    }

    @Test("cruddur serve refuses an OTEL setting it cannot honour with one line and exit 1, before serving")
    func serveRefusesBadSettings() async throws {
        let process = try ChildProcess(
            cruddurExecutable, ["serve"],
            environment: cleanEnvironment([
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "PORT": "\(try freePort())",
            ]))
        let status = await process.waitForExit(timeout: .seconds(30))
        #expect(status == 1)
        let lines = process.output.split(separator: "\n")
        #expect(
            lines.last == "cruddur: OTEL_EXPORTER_OTLP_PROTOCOL 'grpc' must be http/protobuf or http/json (this build exports over HTTP only)",
            "\(lines)")
    }
}
