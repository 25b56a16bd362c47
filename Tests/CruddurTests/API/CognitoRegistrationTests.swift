import CruddurAPI
import CruddurDatabase
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// Issue 14, item 14: a verified user whose post-confirmation trigger failed gets their row on first use, from
/// Cognito's `GetUser` (moto_server stands in for the user pool: it issues the tokens and publishes their keys).
@Suite("API: a signed-in user without a users row is registered from Cognito's GetUser", .serialized)
struct CognitoRegistrationTests {
    /// A user pool and app client in moto, and a confirmed user with a password.
    struct Pool {
        let moto: MotoEndpoint
        let poolID: String
        let clientID: String

        static func make(_ moto: MotoEndpoint) async throws -> Pool {
            let pool = try await moto.aws(["cognito-idp", "create-user-pool", "--pool-name", "cruddur-\(UUID().uuidString.prefix(8))"])
            let poolID = try #require((pool.json["UserPool"] as? [String: Any])?["Id"] as? String, "\(pool)")
            let client = try await moto.aws([
                "cognito-idp", "create-user-pool-client", "--user-pool-id", poolID, "--client-name", "web",
                "--explicit-auth-flows", "ADMIN_USER_PASSWORD_AUTH",
            ])
            let clientID = try #require((client.json["UserPoolClient"] as? [String: Any])?["ClientId"] as? String, "\(client)")
            return Pool(moto: moto, poolID: poolID, clientID: clientID)
        }

        /// Creates a confirmed user with these attributes and returns (sub, access token).
        func signIn(_ username: String, attributes: [String: String]) async throws -> (sub: String, token: String) {
            let list = attributes.map { "Name=\($0.key),Value=\($0.value)" }
            let created = try await moto.aws(
                ["cognito-idp", "admin-create-user", "--user-pool-id", poolID, "--username", username, "--user-attributes"] + list)
            #expect(created.status == 0, "\(created)")
            let password = "Pa55word!\(UUID().uuidString.prefix(6))"
            _ = try await moto.aws([
                "cognito-idp", "admin-set-user-password", "--user-pool-id", poolID, "--username", username, "--password", password,
                "--permanent",
            ])
            let auth = try await moto.aws([
                "cognito-idp", "admin-initiate-auth", "--user-pool-id", poolID, "--client-id", clientID, "--auth-flow",
                "ADMIN_USER_PASSWORD_AUTH", "--auth-parameters", "USERNAME=\(username),PASSWORD=\(password)",
            ])
            let token = try #require((auth.json["AuthenticationResult"] as? [String: Any])?["AccessToken"] as? String, "\(auth)")
            let user = try await moto.aws(["cognito-idp", "admin-get-user", "--user-pool-id", poolID, "--username", username])
            let sub = try #require(
                (user.json["UserAttributes"] as? [[String: String]])?.first { $0["Name"] == "sub" }?["Value"], "\(user)")
            return (sub, token)
        }

        var settings: CognitoSettings {
            var settings = CognitoSettings(
                region: moto.region, userPoolID: poolID, clientID: clientID, jwksURL: "\(moto.url)/\(poolID)/.well-known/jwks.json",
                fetchTimeout: .seconds(15)
            )
            settings.identityProviderEndpoint = moto.url
            return settings
        }
    }

    static func post(_ client: any TestClientProtocol, token: String, message: String) async throws -> TestResponse {
        try await client.execute(
            uri: "/api/activities", method: .post, headers: [.contentType: "application/json", .authorization: "Bearer \(token)"],
            body: jsonBody(["message": message, "ttl": "1-day"])
        ) { $0 }
    }

    static func users(_ database: ConnectionSettings, sub: String) async throws -> [(String, String, String)] {
        try await withTestConnection(database) { connection in
            try await connection.query(
                "SELECT handle, display_name, email FROM public.users WHERE cognito_user_id = \(sub)", logger: TestPostgres.logger
            ).collect().map { try $0.decode((String, String, String).self) }
        }
    }

    @Test("the first post creates the row from GetUser exactly as the Lambda would, then posts; the next post just posts")
    func registersOnFirstPost() async throws {
        let pool = try await Pool.make(try await TestMoto.shared.endpoint())
        let (sub, token) = try await pool.signIn(
            "dana", attributes: ["email": "dana@example.com", "name": "Dana Scully", "preferred_username": "dana"])
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        #expect(try await Self.users(database, sub: sub).isEmpty)
        try await withTestApp(database: database, configure: { $0.cognito = pool.settings }) { client in
            let first = try await Self.post(client, token: token, message: "first")
            #expect(first.status == .ok, "\(first.text)")
            #expect((try first.json() as? [String: Any])?["handle"] as? String == "dana")
            let rows = try await Self.users(database, sub: sub)
            #expect(rows.count == 1 && rows.first?.0 == "dana" && rows.first?.1 == "Dana Scully" && rows.first?.2 == "dana@example.com")
            #expect(try await Self.post(client, token: token, message: "second").status == .ok)
        }
    }

    @Test("a handle another user has is 409 handle_taken, as the Lambda refuses it; nothing is written")
    func handleTaken() async throws {
        let pool = try await Pool.make(try await TestMoto.shared.endpoint())
        let (sub, token) = try await pool.signIn(
            "impostor", attributes: ["email": "i@example.com", "name": "Not Bayko", "preferred_username": "bayko"])
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        let before = try await activityCount(database)
        try await withTestApp(database: database, configure: { $0.cognito = pool.settings }) { client in
            let response = try await Self.post(client, token: token, message: "as bayko")
            #expect(response.status == .conflict, "\(response.text)")
            #expect((try response.json() as? [String: String])?["error"] == "handle_taken")
        }
        #expect(try await Self.users(database, sub: sub).isEmpty)
        #expect(try await activityCount(database) == before)
    }

    @Test("a user the pool no longer has is 401; an unreachable pool is 503; neither writes anything")
    func poolSaysNo() async throws {
        let moto = try await TestMoto.shared.endpoint()
        let pool = try await Pool.make(moto)
        let (sub, token) = try await pool.signIn("gone", attributes: ["email": "g@example.com", "name": "Gone", "preferred_username": "gone"])
        _ = try await moto.aws(["cognito-idp", "admin-delete-user", "--user-pool-id", pool.poolID, "--username", "gone"])
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        try await withTestApp(database: database, configure: { $0.cognito = pool.settings }) { client in
            let response = try await Self.post(client, token: token, message: "ghost")
            #expect(response.status == .unauthorized, "\(response.text)")
            #expect(response.headers[.wwwAuthenticate] != nil)
        }
        let (otherSub, otherToken) = try await pool.signIn(
            "offline", attributes: ["email": "o@example.com", "name": "Offline", "preferred_username": "offline"])
        var unreachable = pool.settings
        unreachable.identityProviderEndpoint = "http://127.0.0.1:\(try freePort())"
        try await withTestApp(database: database, configure: { $0.cognito = unreachable }) { client in
            let response = try await Self.post(client, token: otherToken, message: "later")
            #expect(response.status == .serviceUnavailable, "\(response.text)")
            #expect((try response.json() as? [String: String])?["error"] == "auth_unavailable")
            #expect(response.headers[.retryAfter] == "5")
        }
        #expect(try await Self.users(database, sub: sub).isEmpty)
        #expect(try await Self.users(database, sub: otherSub).isEmpty)
    }
}
