import CruddurDatabase
import Foundation
import PostgresNIO
import Testing

/// The page in a real browser: headless Chromium, driven by Selenium (Tests/browser/web_page_test.py),
/// against a real `cruddur serve` on a throwaway database.
@Suite("Web page in headless Chromium against cruddur serve", .serialized)
struct BrowserTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let script = repositoryRoot.appendingPathComponent("Tests/browser/web_page_test.py").path
    static let bulkCount = 300
    static let expiringMessage = "This one expires in seconds"
    static let expiringSeconds = 40

    /// Runs one phase of the browser script; its output is the failure message when it fails.
    static func runBrowser(_ arguments: [String], environment extra: [String: String] = [:]) async throws -> (status: Int32?, output: String) {
        var environment = cleanEnvironment(extra)
        // Selenium must not try to download a browser or driver: Debian's are used.
        environment["SE_OFFLINE"] = "true"
        let child = try ChildProcess("/usr/bin/env", ["python3", script] + arguments, environment: environment)
        let status = await child.waitForExit(timeout: .seconds(240))
        if status == nil { child.signal(SIGKILL) }
        return (status, child.output)
    }

    @Test("local mode: home feed, posting, an over-long message, the XSS message, load more to the end, expiry")
    func page() async throws {
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        let local = try await LocalServer.start(database: database)
        let server = local.process
        defer { server.signal(SIGTERM) }
        let base = local.base

        // The page as `cruddur serve` serves it: its resources were found in the built bundle.
        let page = try await HTTP.request("GET", base + "/")
        #expect(page.status == 200)
        #expect(page.body.contains("<title>Cruddur</title>"))
        #expect(page.headers.contains { $0.0.lowercased() == "content-security-policy" && $0.1.hasPrefix("default-src 'self'") })

        var arguments = ["basic", "--base-url", base]
        if let screenshot = ProcessInfo.processInfo.environment["CRUDDUR_SCREENSHOT"], !screenshot.isEmpty {
            arguments += ["--screenshot", screenshot]
        }
        let basic = try await Self.runBrowser(arguments)
        #expect(basic.status == 0, "\(basic.output)")
        #expect(basic.output.contains("browser basic: \(arguments.count > 3 ? 9 : 8) passed, 0 failed"), "\(basic.output)")
        // The seed activity and the three good posts; the over-long and unknown-handle posts wrote nothing.
        #expect(try await activityCount(database) == 4)
        let overLong = try await withTestConnection(database) { connection in
            let rows = try await connection.query(
                "SELECT count(*)::int8 FROM public.activities WHERE char_length(message) > \(280)", logger: TestPostgres.logger
            ).collect()
            return try rows[0].decode(Int64.self)
        }
        #expect(overLong == 0)
        // Each post from the page carried its own Idempotency-Key.
        let keys = try await withTestConnection(database) { connection in
            let rows = try await connection.query(
                "SELECT count(DISTINCT key)::int8 FROM public.idempotency_keys WHERE key LIKE \("web-%")", logger: TestPostgres.logger
            ).collect()
            return try rows[0].decode(Int64.self)
        }
        #expect(keys == 3)

        try await withTestConnection(database) { connection in
            try await connection.query(
                """
                INSERT INTO public.activities (user_uuid, message, expires_at, created_at)
                SELECT u.uuid, \("bulk #") || n, now() + interval '1 day', now() - make_interval(secs => n)
                FROM public.users u, generate_series(1, \(Self.bulkCount)) AS n
                WHERE u.handle = \("bayko")
                """, logger: TestPostgres.logger
            ).collect()
            try await connection.query(
                """
                INSERT INTO public.activities (user_uuid, message, expires_at, created_at)
                SELECT u.uuid, \(Self.expiringMessage), now() + make_interval(secs => \(Self.expiringSeconds)), now()
                FROM public.users u WHERE u.handle = \("jess-bk")
                """, logger: TestPostgres.logger
            ).collect()
        }
        let feed = try await Self.runBrowser([
            "feed", "--base-url", base, "--bulk-prefix", "bulk #", "--bulk-count", "\(Self.bulkCount)",
            "--expiring", Self.expiringMessage,
        ])
        #expect(feed.status == 0, "\(feed.output)")
        #expect(feed.output.contains("browser feed: 5 passed, 0 failed"), "\(feed.output)")

        server.signal(SIGTERM)
        #expect(await server.waitForExit(timeout: .seconds(20)) == 0, "\(server.output)")
    }

    @Test("Cognito mode: a 401 asks for a token, a bad token is refused, a good one posts as its user")
    func cognito() async throws {
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        let token = try await TestKeys.a.sign(.access())
        try await withJWKSServer(TestJWKS(keys: [TestKeys.a])) { jwksURL in
            let port = try freePort()
            let base = "http://127.0.0.1:\(port)"
            let server = try ChildProcess(
                cruddurExecutable, ["serve"],
                environment: cleanEnvironment([
                    "CONNECTION_URL": database.libpqURL, "PORT": "\(port)", "FRONTEND_URL": "",
                    "AWS_COGNITO_USER_POOL_ID": TestPool.userPoolID, "AWS_COGNITO_USER_POOL_CLIENT_ID": TestPool.clientID,
                    "AWS_DEFAULT_REGION": TestPool.region, "AWS_REGION": "", "COGNITO_JWKS_URL": jwksURL,
                ]))
            defer { server.signal(SIGTERM) }
            #expect(await HTTP.waitUntilHealthy(base + "/api/health", timeout: .seconds(30)), "\(server.output)")
            // The token goes through the environment: never a command line.
            let run = try await Self.runBrowser(["auth", "--base-url", base], environment: ["CRUDDUR_TEST_TOKEN": token])
            #expect(run.status == 0, "\(run.output)")
            #expect(run.output.contains("browser auth: 5 passed, 0 failed"), "\(run.output)")
            #expect(try await activityCount(database) == 2)
            server.signal(SIGTERM)
            #expect(await server.waitForExit(timeout: .seconds(20)) == 0, "\(server.output)")
            #expect(!server.output.contains(token), "the token is never logged")
        }
    }
}
