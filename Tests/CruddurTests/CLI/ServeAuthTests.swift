import CruddurDatabase
import Foundation
import Testing

@Suite("cruddur serve: local development mode and Cognito mode", .serialized)
struct ServeAuthTests {
    static let warning = "Writes are unauthenticated"

    @Test("local mode on loopback: one warning at start, and posts trust the body's user_handle")
    func localModeWarnsOnce() async throws {
        let port = try freePort()
        let server = try ChildProcess(
            cruddurExecutable, ["serve"], environment: try await serveEnvironment(["HOST": "127.0.0.1", "PORT": "\(port)"]))
        #expect(await HTTP.waitUntilHealthy("http://127.0.0.1:\(port)/api/health", timeout: .seconds(30)), "\(server.output)")
        let post = try await HTTP.request(
            "POST", "http://127.0.0.1:\(port)/api/activities", body: #"{"user_handle": "jess-bk", "message": "local mode", "ttl": "1-day"}"#
        )
        #expect(post.status == 200)
        #expect(post.body.contains(#""handle":"jess-bk""#))
        server.signal(SIGTERM)
        #expect(await server.waitForExit(timeout: .seconds(20)) == 0)
        let warnings = server.output.split(whereSeparator: \.isNewline).filter { $0.contains(Self.warning) }
        #expect(warnings.count == 1, "\(server.output)")
        #expect(warnings.first?.contains("warning") == true)
    }

    @Test(
        "local mode on a non-loopback HOST is refused without --allow-unauthenticated-writes",
        arguments: ["0.0.0.0", "::", "192.0.2.10", "example.com"])
    func nonLoopbackRefused(host: String) async throws {
        let port = try freePort()
        let child = try ChildProcess(cruddurExecutable, ["serve"], environment: try await serveEnvironment(["HOST": host, "PORT": "\(port)"]))
        #expect(await child.waitForExit(timeout: .seconds(20)) == 1)
        let lines = child.output.split(whereSeparator: \.isNewline)
        #expect(lines.count == 1, "\(child.output)")
        #expect(lines.first?.hasPrefix("cruddur: HOST \(host) is reachable from other machines") == true)
        #expect(child.output.contains("--allow-unauthenticated-writes"))
    }

    @Test("--allow-unauthenticated-writes serves local mode on 0.0.0.0, still with the warning")
    func nonLoopbackAllowed() async throws {
        let port = try freePort()
        let server = try ChildProcess(
            cruddurExecutable, ["serve", "--allow-unauthenticated-writes"],
            environment: try await serveEnvironment(["HOST": "0.0.0.0", "PORT": "\(port)"])
        )
        #expect(await HTTP.waitUntilHealthy("http://127.0.0.1:\(port)/api/health", timeout: .seconds(30)), "\(server.output)")
        server.signal(SIGTERM)
        #expect(await server.waitForExit(timeout: .seconds(20)) == 0)
        #expect(server.output.split(whereSeparator: \.isNewline).filter { $0.contains(Self.warning) }.count == 1, "\(server.output)")
    }

    @Test("Cognito mode from the environment: no warning, 0.0.0.0 is fine, posts need a token and the token's user posts")
    func cognitoMode() async throws {
        let jwks = TestJWKS(keys: [TestKeys.a])
        let token = try await TestKeys.a.sign(.access())
        try await withJWKSServer(jwks) { url in
            let port = try freePort()
            let server = try ChildProcess(
                cruddurExecutable, ["serve"],
                environment: try await serveEnvironment([
                    "HOST": "0.0.0.0", "PORT": "\(port)",
                    "AWS_COGNITO_USER_POOL_ID": TestPool.userPoolID, "AWS_COGNITO_USER_POOL_CLIENT_ID": TestPool.clientID,
                    "AWS_DEFAULT_REGION": TestPool.region, "COGNITO_JWKS_URL": url,
                ]))
            let base = "http://127.0.0.1:\(port)"
            #expect(await HTTP.waitUntilHealthy(base + "/api/health", timeout: .seconds(30)), "\(server.output)")
            let body = #"{"user_handle": "jess-bk", "message": "via the CLI", "ttl": "1-day"}"#
            let anonymous = try await HTTP.request("POST", base + "/api/activities", body: body)
            #expect(anonymous.status == 401)
            #expect(anonymous.headers.contains { $0.0.lowercased() == "www-authenticate" && $0.1.hasPrefix("Bearer") })
            let signed = try await HTTP.request("POST", base + "/api/activities", body: body, headers: [("Authorization", "Bearer \(token)")])
            #expect(signed.status == 200, "\(signed.body)")
            #expect(signed.body.contains(#""handle":"bayko""#))
            let feed = try await HTTP.request("GET", base + "/api/activities/home")
            #expect(feed.status == 200)
            server.signal(SIGTERM)
            #expect(await server.waitForExit(timeout: .seconds(20)) == 0)
            #expect(!server.output.contains(Self.warning), "\(server.output)")
            #expect(server.output.contains("Writes need a Cognito token"))
            #expect(!server.output.contains(token), "the token is never logged")
        }
    }

    @Test(
        "incomplete or inconsistent Cognito settings are one line on stderr and a non-zero exit",
        arguments: [
            ["AWS_COGNITO_USER_POOL_ID": "us-east-1_TestPool1"],
            ["AWS_COGNITO_USER_POOL_CLIENT_ID": "testclient0123456789abcdef"],
            ["AWS_COGNITO_USER_POOL_ID": "not a pool", "AWS_COGNITO_USER_POOL_CLIENT_ID": "testclient0123456789abcdef"],
            ["AWS_COGNITO_USER_POOL_ID": "us-east-1_TestPool1", "AWS_COGNITO_USER_POOL_CLIENT_ID": "bad client!"],
            [
                "AWS_COGNITO_USER_POOL_ID": "us-east-1_TestPool1", "AWS_COGNITO_USER_POOL_CLIENT_ID": "testclient0123456789abcdef",
                "AWS_DEFAULT_REGION": "eu-west-2",
            ],
            [
                "AWS_COGNITO_USER_POOL_ID": "us-east-1_TestPool1", "AWS_COGNITO_USER_POOL_CLIENT_ID": "testclient0123456789abcdef",
                "COGNITO_JWKS_URL": "ftp://x/y",
            ],
        ])
    func badCognitoEnvironment(overrides: [String: String]) async throws {
        let port = try freePort()
        let child = try ChildProcess(
            cruddurExecutable, ["serve"], environment: try await serveEnvironment(overrides.merging(["PORT": "\(port)"]) { $1 }))
        #expect(await child.waitForExit(timeout: .seconds(20)) == 1)
        let lines = child.output.split(whereSeparator: \.isNewline)
        #expect(lines.count == 1, "\(child.output)")
        #expect(lines.first?.hasPrefix("cruddur: ") == true)
    }
}

/// The environment of a `serve` child on a migrated, seeded test database, with no Cognito settings unless given.
private func serveEnvironment(_ overrides: [String: String]) async throws -> [String: String] {
    let database = try await TestPostgres.shared.makeDatabase(seeded: true)
    guard case .unixSocket(let directory, _) = database.endpoint else {
        throw POSIXError(.EINVAL)
    }
    let url = "postgresql://postgres@\(directory.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)/\(database.database)"
    let unset = [
        "AWS_COGNITO_USER_POOL_ID": "", "AWS_COGNITO_USER_POOL_CLIENT_ID": "", "AWS_DEFAULT_REGION": "", "AWS_REGION": "",
        "COGNITO_JWKS_URL": "", "FRONTEND_URL": "",
    ]
    return cleanEnvironment(unset.merging(["CONNECTION_URL": url]) { $1 }.merging(overrides) { $1 })
}
