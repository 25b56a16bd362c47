import Foundation
import Testing

/// Runs `cruddur health` with `arguments` and `environment`.
private func health(_ arguments: [String], environment: [String: String] = [:]) async throws -> (status: Int32?, output: String, seconds: Double) {
    let started = ContinuousClock.now
    let child = try ChildProcess(cruddurExecutable, ["health"] + arguments, environment: cleanEnvironment(environment))
    let status = await child.waitForExit(timeout: .seconds(30))
    if status == nil { child.signal(SIGKILL) }
    let elapsed = ContinuousClock.now - started
    return (status, child.output, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
}

@Suite("cruddur health: liveness and readiness for container health checks", .serialized)
struct HealthCommandTests {
    @Test("liveness and readiness of a running server exit 0; liveness needs no database, readiness does")
    func liveAndReady() async throws {
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        let server = try await LocalServer.start(database: database, environment: ["ACCESS_LOG": "off"])
        defer { server.process.signal(SIGTERM) }

        let live = try await HTTP.request("GET", server.base + "/api/health/live")
        #expect(live.status == 200 && live.body == #"{"status":"ok"}"#)
        #expect(try await health(["--url", server.base]).status == 0)
        #expect(try await health(["--url", server.base, "--ready"]).status == 0)
        #expect(try await health([], environment: ["PORT": "\(server.port)"]).status == 0, "PORT names the default URL's port")

        // The database goes away: readiness fails (503), liveness still answers.
        // New connections are refused first, then the server's sessions are ended, so its pool cannot reconnect.
        try await withTestConnection(database.with(database: "postgres")) { connection in
            try await connection.query(
                "ALTER DATABASE \(unescaped: "\"" + database.database + "\"") WITH ALLOW_CONNECTIONS false", logger: TestPostgres.logger
            ).collect()
            try await connection.query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = \(database.database) AND pid <> pg_backend_pid()",
                logger: TestPostgres.logger
            ).collect()
        }
        var notReady = try await health(["--url", server.base, "--ready"])
        for _ in 0..<20 where notReady.status != 1 {
            try await Task.sleep(for: .milliseconds(250))
            notReady = try await health(["--url", server.base, "--ready"])
        }
        #expect(notReady.status == 1, "\(notReady.output)")
        #expect(notReady.output.contains("answered 503"), "\(notReady.output)")
        #expect(try await health(["--url", server.base]).status == 0, "liveness does not ask the database")
        try await withTestConnection(database.with(database: "postgres")) { connection in
            try await connection.query(
                "ALTER DATABASE \(unescaped: "\"" + database.database + "\"") WITH ALLOW_CONNECTIONS true", logger: TestPostgres.logger
            ).collect()
        }
    }

    @Test("nothing listening: exit 1 with one line, within about 2 s; a bad URL is a usage error")
    func failures() async throws {
        let closed = try await health(["--url", "http://127.0.0.1:\(try freePort())"])
        #expect(closed.status == 1)
        #expect(closed.output.split(separator: "\n").count == 1, "\(closed.output)")
        #expect(closed.seconds < 5)
        for bad in ["ftp://127.0.0.1:1", "not a url", "http://user@127.0.0.1:1", "http://127.0.0.1:1/?q=1"] {
            #expect(try await health(["--url", bad]).status == 64, "\(bad)")
        }
        #expect(try await health([], environment: ["PORT": "http"]).status == 64)
    }
}
