import Foundation
import Testing

/// One parsed sample: name, labels, value.
private struct Sample {
    let name: String
    let labels: [String: String]
    let value: Double
}

/// Parses a Prometheus exposition with `prometheus_client`'s parser (Tests/python/parse_metrics.py, from `.venv`).
private func parseExposition(_ text: String) async throws -> [Sample] {
    let file = NSTemporaryDirectory() + "cruddur-metrics-\(UUID().uuidString).txt"
    try text.write(toFile: file, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(atPath: file) }
    let python = packageDirectory + "/.venv/bin/python"
    let parser = try ChildProcess(python, [packageDirectory + "/Tests/python/parse_metrics.py", file], environment: cleanEnvironment())
    let status = await parser.waitForExit(timeout: .seconds(60))
    #expect(status == 0, "\(parser.output)")
    let rows = try #require(try JSONSerialization.jsonObject(with: Data(parser.output.utf8)) as? [[Any]], "\(parser.output)")
    return rows.compactMap { row in
        guard row.count == 3, let name = row[0] as? String, let labels = row[1] as? [String: String], let value = row[2] as? Double else {
            return nil
        }
        return Sample(name: name, labels: labels, value: value)
    }
}

@Suite("Prometheus metrics on METRICS_PORT", .serialized)
struct MetricsTests {
    @Test("requests, the feed cache, database calls, the pool and the process, parsed by prometheus_client; never on the API port")
    func scrape() async throws {
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        let metricsPort = try freePort()
        let server = try await LocalServer.start(
            database: database, environment: ["METRICS_PORT": "\(metricsPort)", "ACCESS_LOG": "off", "POST_RATE_LIMIT": "1/1h"])
        defer { server.process.signal(SIGTERM) }
        let base = server.base

        let cursor = "1764547200000000_2d0e3f0a-5b6c-4d7e-8f90-a1b2c3d4e5f6"
        // A miss, then hits (several, so that one lands inside the cache's window even on a loaded machine).
        for _ in 0..<5 {
            _ = try await HTTP.request("GET", base + "/api/activities/home")
        }
        _ = try await HTTP.request("GET", base + "/api/activities/home?cursor=\(cursor)")
        _ = try await HTTP.request("GET", base + "/no/such/path-with-user-data")
        let post = #"{"user_handle":"bayko","message":"counted","ttl":"1-day"}"#
        #expect(try await HTTP.request("POST", base + "/api/activities", body: post).status == 200)
        #expect(try await HTTP.request("POST", base + "/api/activities", body: post).status == 429)
        #expect(try await HTTP.request("GET", base + "/metrics").status == 404, "metrics are never on the API's port")

        let scrape = try await HTTP.request("GET", "http://127.0.0.1:\(metricsPort)/metrics")
        #expect(scrape.status == 200)
        #expect(scrape.headers.contains { $0.0.lowercased() == "content-type" && $0.1.hasPrefix("text/plain; version=0.0.4") })
        let samples = try await parseExposition(scrape.body)
        func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
            samples.first { sample in sample.name == name && labels.allSatisfy { sample.labels[$0.key] == $0.value } }?.value
        }

        let feed = ["method": "GET", "route": "/api/activities/home", "status_class": "2xx"]
        #expect(value("http_server_request_duration_seconds_count", feed) ?? 0 >= 6)
        #expect(value("http_server_request_duration_seconds_bucket", feed.merging(["le": "+Inf"]) { $1 }) ?? 0 >= 6)
        // The unknown path and /metrics asked of the API's port.
        #expect(value("http_server_request_duration_seconds_count", ["route": "(unmatched)", "status_class": "4xx"]) == 2)
        #expect(value("http_server_request_duration_seconds_count", ["method": "POST", "route": "/api/activities", "status_class": "4xx"]) == 1)
        #expect(value("http_server_active_requests") != nil)
        #expect(value("cruddur_feed_cache_lookups_total", ["result": "hit"]) ?? 0 >= 1)
        #expect(value("cruddur_feed_cache_lookups_total", ["result": "miss"]) ?? 0 >= 1)
        #expect(value("cruddur_feed_cache_invalidations_total") == 1)
        #expect(value("cruddur_posts_rate_limited_total") == 1)
        #expect(value("cruddur_db_call_duration_seconds_count", ["operation": "reading the home feed", "outcome": "ok"]) ?? 0 >= 2)
        #expect(value("cruddur_db_call_duration_seconds_count", ["operation": "creating an activity", "outcome": "ok"]) ?? 0 >= 1)
        for state in ["in_use", "idle", "waiting"] {
            #expect(value("cruddur_db_pool_connections", ["state": state]) != nil, "\(state)")
        }
        #expect(value("cruddur_purge_runs_total") ?? 0 >= 1)
        #expect(value("cruddur_purge_deleted_rows_total") != nil)
        #expect(value("process_resident_memory_bytes") ?? 0 > 1_000_000)
        #expect(value("process_cpu_seconds_total") ?? 0 > 0)
        #expect(value("process_open_fds") ?? 0 > 3)
        // Label values are bounded: no raw path, query string or user data.
        for sample in samples {
            for labelValue in sample.labels.values {
                #expect(
                    !labelValue.contains("no/such") && !labelValue.contains(cursor) && !labelValue.contains("bayko"),
                    "\(sample.name) \(sample.labels)")
            }
        }
    }
}
