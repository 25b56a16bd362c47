import CruddurDatabase
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JWTKit
import NIOCore
import Testing

@testable import CruddurAPI

/// Keys generated once per test run (RSA key generation is slow in debug builds).
enum TestKeys {
    static let a = try! TestSigningKey.generate(kid: "test-key-a")
    static let b = try! TestSigningKey.generate(kid: "test-key-b")
    /// Never published.
    static let c = try! TestSigningKey.generate(kid: "test-key-c")
}

@Suite("API: posting needs a Cognito token when a user pool is configured", .serialized)
struct AuthTests {
    @Test("an access token posts as the user whose cognito_user_id is its sub; the body's user_handle is ignored")
    func accessToken() async throws {
        try await withCognitoApp { client, jwks, database in
            let token = try await TestKeys.a.sign(.access())
            let response = try await post(client, bearer: token, body: ["user_handle": "jess-bk", "message": "signed in", "ttl": "1-day"])
            #expect(response.status == .ok, "\(response.text)")
            let object = try #require(try response.json() as? [String: Any])
            #expect(object["handle"] as? String == "bayko")
            #expect(object["display_name"] as? String == "Andrew Bayko")
            let latest = try await latestAuthor(database)
            #expect(latest?.0 == "bayko" && latest?.1 == "signed in")
            #expect(await jwks.hits == 1)
        }
    }

    @Test("an id token (aud is the client) posts too, and needs no user_handle in the body")
    func idToken() async throws {
        try await withCognitoApp { client, _, database in
            let before = try await activityCount(database)
            let token = try await TestKeys.a.sign(.id())
            let response = try await post(client, bearer: token, body: ["message": "from an id token", "ttl": "1-hour"])
            #expect(response.status == .ok, "\(response.text)")
            #expect((try response.json() as? [String: Any])?["handle"] as? String == "bayko")
            #expect(try await activityCount(database) == before + 1)
        }
    }

    @Test("exp and nbf are checked with a small leeway for clock skew")
    func leeway() async throws {
        try await withCognitoApp { client, _, _ in
            var claims = TestClaims.access()
            claims.exp = .init(value: Date().addingTimeInterval(-10))
            claims.nbf = .init(value: Date().addingTimeInterval(10))
            let response = try await post(client, bearer: try await TestKeys.a.sign(claims))
            #expect(response.status == .ok, "\(response.text)")
        }
    }

    @Test("each bad credential is a 401 with a JSON error and WWW-Authenticate, and nothing is written", arguments: BadCredential.allCases)
    func rejected(credential: BadCredential) async throws {
        try await withCognitoApp { client, _, database in
            let before = try await activityCount(database)
            let (authorization, code, phrase) = try await credential.make()
            let response = try await post(client, authorization: authorization)
            #expect(response.status == .unauthorized, "\(response.text)")
            #expect(response.headers[.contentType] == "application/json; charset=utf-8")
            let object = try #require(try response.json() as? [String: Any])
            #expect(object["error"] as? String == code)
            let message = try #require(object["message"] as? String)
            #expect(message.contains(phrase), "\(message)")
            let challenge = try #require(response.headers[.wwwAuthenticate])
            #expect(challenge.hasPrefix(#"Bearer realm="cruddur""#))
            if code == "missing_token" {
                #expect(!challenge.contains("error="), "RFC 6750 §3.1: no error code without credentials")
            } else {
                #expect(challenge.contains(#"error="invalid_token""#))
                #expect(challenge.contains("error_description=\"\(message)\""), "\(challenge)")
            }
            #expect(try await activityCount(database) == before)
        }
    }

    @Test("a verified id token whose user has no users row gets 403 user_not_registered (registering needs an access token)")
    func unregisteredUser() async throws {
        try await withCognitoApp { client, _, database in
            let before = try await activityCount(database)
            let token = try await TestKeys.a.sign(.id(sub: "7d3c0b9a-0000-4000-8000-unlinked00001"))
            let response = try await post(client, bearer: token, body: ["user_handle": "bayko", "message": "hi", "ttl": "1-day"])
            #expect(response.status == .forbidden)
            #expect((try response.json() as? [String: Any])?["error"] as? String == "user_not_registered")
            #expect(try await activityCount(database) == before)
        }
    }

    @Test("validation still answers 422 with the seed's codes, without user_handle_blank")
    func validationWithToken() async throws {
        try await withCognitoApp { client, _, database in
            let before = try await activityCount(database)
            let token = try await TestKeys.a.sign(.access())
            let response = try await post(client, bearer: token, body: ["message": "", "ttl": "forever"])
            #expect(response.status == .unprocessableContent)
            #expect(try response.json() as? [String] == ["message_blank", "ttl_blank"])
            #expect(try await activityCount(database) == before)
        }
    }

    @Test("the home feed stays public")
    func feedIsPublic() async throws {
        try await withCognitoApp { client, jwks, _ in
            let feed = try await client.execute(uri: "/api/activities/home", method: .get) { $0 }
            #expect(feed.status == .ok)
            #expect((try feed.json() as? [[String: Any]])?.count == 1)
            #expect(await jwks.hits == 0)
        }
    }

    @Test("a cross-origin 401 carries CORS headers and exposes WWW-Authenticate to the page")
    func corsOnUnauthorized() async throws {
        try await withCognitoApp { client, _, _ in
            try await client.execute(
                uri: "/api/activities", method: .post, headers: [.origin: "http://localhost:3000", .contentType: "application/json"],
                body: jsonBody(["message": "hi", "ttl": "1-day"])
            ) { response in
                #expect(response.status == .unauthorized)
                #expect(response.headers[.accessControlAllowOrigin] == "http://localhost:3000")
                #expect(response.headers[.accessControlExposeHeaders]?.contains("WWW-Authenticate") == true)
                #expect(response.headers[.wwwAuthenticate] != nil)
            }
        }
    }

    @Test("key rotation: a token with a new kid makes the server refetch the key set; a dropped key stops working")
    func keyRotation() async throws {
        try await withCognitoApp(published: [TestKeys.a], configure: { $0.minimumRefreshInterval = .milliseconds(500) }) { client, jwks, _ in
            #expect(try await post(client, bearer: try await TestKeys.a.sign(.access())).status == .ok)
            #expect(await jwks.hits == 1)
            await jwks.publish([TestKeys.b])
            try await Task.sleep(for: .milliseconds(600))
            let rotated = try await post(client, bearer: try await TestKeys.b.sign(.access()))
            #expect(rotated.status == .ok, "\(rotated.text)")
            #expect(await jwks.hits == 2)
            let old = try await post(client, bearer: try await TestKeys.a.sign(.access()))
            #expect(old.status == .unauthorized)
            #expect((try old.json() as? [String: Any])?["message"] as? String == "The token is signed with a key the user pool does not publish.")
        }
    }

    @Test("the key set expires after Cache-Control max-age: a key the pool removed stops working without any unknown kid")
    func keySetExpires() async throws {
        try await withCognitoApp(published: [TestKeys.a], configure: { $0.minimumRefreshInterval = .milliseconds(500) }) { client, jwks, _ in
            await jwks.serve(cacheControl: "public, max-age=1")
            #expect(try await post(client, bearer: try await TestKeys.a.sign(.access())).status == .ok)
            await jwks.publish([TestKeys.b])
            #expect(try await post(client, bearer: try await TestKeys.a.sign(.access())).status == .ok, "within max-age the set is kept")
            #expect(await jwks.hits == 1)
            try await Task.sleep(for: .milliseconds(1_100))
            let removed = try await post(client, bearer: try await TestKeys.a.sign(.access()))
            #expect(removed.status == .unauthorized, "\(removed.text)")
            #expect(await jwks.hits == 2)
            #expect(try await post(client, bearer: try await TestKeys.b.sign(.access())).status == .ok)
            #expect(await jwks.hits == 2)
        }
    }

    @Test("when refreshing an expired key set fails, the old set keeps serving, and retries stay rate limited")
    func expiredSetServesWhileTheEndpointFails() async throws {
        try await withCognitoApp(published: [TestKeys.a], configure: { $0.minimumRefreshInterval = .milliseconds(300) }) { client, jwks, _ in
            await jwks.serve(cacheControl: "max-age=1")
            #expect(try await post(client, bearer: try await TestKeys.a.sign(.access())).status == .ok)
            await jwks.answer(status: .internalServerError)
            try await Task.sleep(for: .milliseconds(1_100))
            for _ in 0..<5 {
                let response = try await post(client, bearer: try await TestKeys.a.sign(.access()))
                #expect(response.status == .ok, "\(response.text)")
            }
            #expect(await jwks.hits == 2, "one failed refresh, then the failure interval holds")
        }
    }

    @Test(
        "Cache-Control max-age is honoured up to an hour; an hour without one",
        arguments: [
            ("max-age=600", 600), ("public, max-age=86400", 3_600), ("", 3_600), ("no-cache", 0), ("max-age=abc", 3_600),
            ("Max-Age=\"20\", must-revalidate", 20),
        ] as [(String, Int64)]
    )
    func keySetAge(cacheControl: String, seconds: Int64) {
        #expect(KeySet.maximumAge(cacheControl: cacheControl) == .seconds(seconds))
    }

    @Test("a flood of unknown kids cannot hammer the JWKS endpoint: one refresh per interval, concurrent ones coalesced")
    func refreshRateLimit() async throws {
        var bogus: [String] = []
        for index in 0..<50 {
            bogus.append(try await TestKeys.c.sign(.access(), kid: "bogus-\(index)"))
        }
        let sequential = bogus[..<25]
        let concurrent = bogus[25...]
        try await withCognitoApp(configure: { $0.minimumRefreshInterval = .seconds(3) }) { client, jwks, database in
            let before = try await activityCount(database)
            #expect(try await post(client, bearer: try await TestKeys.a.sign(.access())).status == .ok)
            #expect(await jwks.hits == 1)
            for token in sequential {
                #expect(try await post(client, bearer: token).status == .unauthorized)
            }
            #expect(await jwks.hits == 1, "refreshes within the interval are refused")
            try await Task.sleep(for: .milliseconds(3100))
            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for token in concurrent {
                    group.addTask { try await post(client, bearer: token).status }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.count == 25 && statuses.allSatisfy { $0 == .unauthorized })
            #expect(await jwks.hits == 2, "one refresh for the whole concurrent flood")
            #expect(try await activityCount(database) == before + 1)
        }
    }

    @Test("concurrent first requests share one JWKS fetch")
    func coalescedFirstFetch() async throws {
        try await withCognitoApp { client, jwks, database in
            let before = try await activityCount(database)
            let token = try await TestKeys.a.sign(.access())
            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for _ in 0..<20 {
                    group.addTask { try await post(client, bearer: token).status }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.allSatisfy { $0 == .ok })
            #expect(await jwks.hits == 1)
            #expect(try await activityCount(database) == before + 20)
        }
    }

    @Test("JWKS fetches are counted by outcome in the metrics")
    func jwksFetchesCounted() async throws {
        let metrics = ServerMetrics()
        try await withJWKSServer(TestJWKS(keys: [TestKeys.a])) { url in
            let store = JWKSKeyStore(settings: TestPool.settings(jwksURL: url), logger: TestPostgres.logger, metrics: metrics)
            guard case .found = await store.keys(for: TestKeys.a.kid) else {
                Issue.record("the key set was not fetched")
                return
            }
        }
        let closed = "http://127.0.0.1:\(try freePort())/.well-known/jwks.json"
        let failing = JWKSKeyStore(settings: TestPool.settings(jwksURL: closed), logger: TestPostgres.logger, metrics: metrics)
        guard case .unavailable = await failing.keys(for: TestKeys.a.kid) else {
            Issue.record("a refused JWKS fetch must be unavailable")
            return
        }
        let exposition = String(decoding: metrics.scrape(pool: nil, accessLogDropped: nil), as: UTF8.self)
        #expect(exposition.contains(#"cruddur_jwks_fetches_total{outcome="ok"} 1"#), "\(exposition)")
        #expect(exposition.contains(#"cruddur_jwks_fetches_total{outcome="error"} 1"#), "\(exposition)")
    }

    @Test("JWKS unreachable (connection refused) → 503 at once, not after the 10 s fetch deadline; nothing written")
    func jwksRefused() async throws {
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        let closed = "http://127.0.0.1:\(try freePort())/.well-known/jwks.json"
        let settings = TestPool.settings(jwksURL: closed) { $0.fetchTimeout = .seconds(10) }
        try await withTestApp(database: database, configure: { $0.cognito = settings }) { client in
            let token = try await TestKeys.a.sign(.access())
            let start = ContinuousClock.now
            let response = try await post(client, bearer: token)
            #expect(ContinuousClock.now - start < .seconds(2))
            expectKeysUnavailable(response)
        }
        #expect(try await activityCount(database) == 1)
    }

    @Test("JWKS host hangs → 503 within the fetch deadline, not a hang; retries wait for the back-off")
    func jwksHangs() async throws {
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        let silent = try SilentListener()
        let url = "http://127.0.0.1:\(silent.port)/.well-known/jwks.json"
        try await withTestApp(database: database, configure: { $0.cognito = TestPool.settings(jwksURL: url) { $0.fetchTimeout = .seconds(1) } }) {
            client in
            let token = try await TestKeys.a.sign(.access())
            let start = ContinuousClock.now
            expectKeysUnavailable(try await post(client, bearer: token))
            let elapsed = ContinuousClock.now - start
            #expect(elapsed >= .milliseconds(900) && elapsed < .seconds(3), "\(elapsed)")
            let again = ContinuousClock.now
            expectKeysUnavailable(try await post(client, bearer: token))
            #expect(ContinuousClock.now - again < .milliseconds(500), "a failed fetch is not retried at once")
        }
        #expect(try await activityCount(database) == 1)
        withExtendedLifetime(silent) {}
    }

    @Test("JWKS answering an error or a document without keys → 503; once it recovers, posting works")
    func jwksErrorsThenRecovers() async throws {
        try await withCognitoApp(configure: { $0.failureRetryInterval = .milliseconds(300) }) { client, jwks, database in
            let before = try await activityCount(database)
            let token = try await TestKeys.a.sign(.access())
            await jwks.answer(status: .internalServerError)
            expectKeysUnavailable(try await post(client, bearer: token))
            await jwks.answer(status: .ok)
            for document in [#"{"keys": []}"#, "not json", #"{"keys": [{"kty": "oct", "kid": "test-key-a", "k": "c2VjcmV0"}]}"#] {
                await jwks.serve(rawDocument: document)
                try await Task.sleep(for: .milliseconds(350))
                expectKeysUnavailable(try await post(client, bearer: token))
            }
            #expect(try await activityCount(database) == before)
            await jwks.serve(rawDocument: nil)
            try await Task.sleep(for: .milliseconds(350))
            #expect(try await post(client, bearer: token).status == .ok)
        }
    }

    @Test("keys already fetched keep working while the JWKS endpoint is down")
    func cachedKeysSurviveOutage() async throws {
        try await withCognitoApp { client, jwks, _ in
            let first = try await post(client, bearer: try await TestKeys.a.sign(.access()))
            #expect(first.status == .ok)
            await jwks.answer(status: .serviceUnavailable)
            let duringOutage = try await post(client, bearer: try await TestKeys.a.sign(.id()))
            #expect(duringOutage.status == .ok)
            #expect(await jwks.hits == 1)
        }
    }

    @Test("local development mode (no user pool): the body's user_handle decides, any Authorization header is ignored")
    func localMode() async throws {
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        try await withTestApp(database: database) { client in
            for authorization in [nil, "Bearer not-a-jwt"] as [String?] {
                let response = try await post(
                    client, authorization: authorization, body: ["user_handle": "jess-bk", "message": "local", "ttl": "1-day"])
                #expect(response.status == .ok)
                #expect((try response.json() as? [String: Any])?["handle"] as? String == "jess-bk")
            }
            let missing = try await post(client, authorization: nil, body: ["message": "no handle", "ttl": "1-day"])
            #expect(missing.status == .unprocessableContent)
            #expect(try missing.json() as? [String] == ["user_handle_blank"])
        }
    }
}

/// Every way a request can fail to authenticate.
enum BadCredential: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case missingHeader, basicScheme, bearerWithoutToken, notAJWT, garbageParts, twoTokens
    case badSignature, tamperedPayload, algNone, hs256WithPublicKeyAsSecret, ps256
    case wrongIssuer, wrongClientID, wrongIDTokenAudience, refreshTokenUse, missingTokenUse
    case expired, notYetValid, issuedInTheFuture, unknownKID, missingKID, missingExp, emptySubject

    var testDescription: String { rawValue }

    /// The `Authorization` value (nil: none), the expected JSON error code, and a phrase of the expected message.
    func make() async throws -> (String?, String, String) {
        let key = TestKeys.a
        func signed(_ edit: (inout TestClaims) -> Void) async throws -> String {
            var claims = TestClaims.access()
            edit(&claims)
            return "Bearer " + (try await key.sign(claims))
        }
        let invalid = "invalid_token"
        switch self {
        case .missingHeader:
            return (nil, "missing_token", "Authorization: Bearer")
        case .basicScheme:
            return ("Basic YmF5a286c2VjcmV0", "missing_token", "Authorization: Bearer")
        case .bearerWithoutToken:
            return ("Bearer", invalid, "not `Bearer <token>`")
        case .notAJWT:
            return ("Bearer not-a-jwt", invalid, "three base64url parts")
        case .garbageParts:
            return ("Bearer aaaa.bbbb.cccc", invalid, "three base64url parts")
        case .twoTokens:
            let token = try await key.sign(.access())
            return ("Bearer \(token), Bearer \(token)", invalid, "not `Bearer <token>`")
        case .badSignature:
            return ("Bearer " + (try await TestKeys.c.sign(.access(), kid: key.kid)), invalid, "signature does not match")
        case .tamperedPayload:
            let parts = try await key.sign(.access()).split(separator: ".")
            var other = TestClaims.access()
            other.sub = "MOCK-jess-bk"
            return ("Bearer \(parts[0]).\(other.json.base64URL).\(parts[2])", invalid, "signature does not match")
        case .algNone:
            return ("Bearer " + unsignedToken(header: ["alg": "none", "kid": key.kid, "typ": "JWT"], claims: .access()), invalid, "signed with none")
        case .hs256WithPublicKeyAsSecret:
            let hmac = JWTKeyCollection()
            await hmac.add(
                hmac: HMACKey(from: key.privateKey.publicKey.pemRepresentation), digestAlgorithm: .sha256, kid: JWKIdentifier(string: key.kid))
            return ("Bearer " + (try await hmac.sign(TestClaims.access(), kid: JWKIdentifier(string: key.kid))), invalid, "signed with HS256")
        case .ps256:
            let pss = JWTKeyCollection()
            await pss.add(pss: key.privateKey, digestAlgorithm: .sha256, kid: JWKIdentifier(string: key.kid))
            return ("Bearer " + (try await pss.sign(TestClaims.access(), kid: JWKIdentifier(string: key.kid))), invalid, "signed with PS256")
        case .wrongIssuer:
            return (try await signed { $0.iss = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_OtherPool" }, invalid, "not issued by")
        case .wrongClientID:
            return (try await signed { $0.clientID = "someotherclient" }, invalid, "another app client")
        case .wrongIDTokenAudience:
            var claims = TestClaims.id()
            claims.aud = "someotherclient"
            return ("Bearer " + (try await key.sign(claims)), invalid, "another app client")
        case .refreshTokenUse:
            return (try await signed { $0.tokenUse = "refresh" }, invalid, "neither a Cognito access token nor an id token")
        case .missingTokenUse:
            return (try await signed { $0.tokenUse = nil }, invalid, "claims lack")
        case .expired:
            return (try await signed { $0.exp = .init(value: Date().addingTimeInterval(-120)) }, "token_expired", "expired")
        case .notYetValid:
            return (try await signed { $0.nbf = .init(value: Date().addingTimeInterval(300)) }, invalid, "not valid yet")
        case .issuedInTheFuture:
            return (try await signed { $0.iat = .init(value: Date().addingTimeInterval(300)) }, invalid, "not valid yet")
        case .unknownKID:
            return ("Bearer " + (try await TestKeys.c.sign(.access())), invalid, "does not publish")
        case .missingKID:
            let keys = JWTKeyCollection()
            await keys.add(rsa: key.privateKey, digestAlgorithm: .sha256)
            return ("Bearer " + (try await keys.sign(TestClaims.access())), invalid, "no key id")
        case .missingExp:
            return (try await signed { $0.exp = nil }, invalid, "claims lack")
        case .emptySubject:
            return (try await signed { $0.sub = "" }, invalid, "subject")
        }
    }
}

/// A seeded database, a loopback JWKS endpoint publishing `published`, and the API in Cognito mode pointed at it.
private func withCognitoApp(
    published: [TestSigningKey] = [TestKeys.a],
    configure: @escaping @Sendable (inout CognitoSettings) -> Void = { _ in },
    _ body: @escaping @Sendable (any TestClientProtocol, TestJWKS, ConnectionSettings) async throws -> Void
) async throws {
    let database = try await TestPostgres.shared.makeDatabase(seeded: true)
    let jwks = TestJWKS(keys: published)
    try await withJWKSServer(jwks) { url in
        try await withTestApp(database: database, configure: { $0.cognito = TestPool.settings(jwksURL: url, configure: configure) }) { client in
            try await body(client, jwks, database)
        }
    }
}

/// `POST /api/activities` with a JSON body and an optional `Authorization` value.
private func post(
    _ client: any TestClientProtocol, authorization: String?, body: [String: Any] = ["message": "hello", "ttl": "1-day"]
) async throws -> TestResponse {
    var headers: HTTPFields = [.contentType: "application/json"]
    if let authorization { headers[.authorization] = authorization }
    return try await client.execute(uri: "/api/activities", method: .post, headers: headers, body: jsonBody(body)) { $0 }
}

private func post(
    _ client: any TestClientProtocol, bearer token: String, body: [String: Any] = ["message": "hello", "ttl": "1-day"]
) async throws -> TestResponse {
    try await post(client, authorization: "Bearer \(token)", body: body)
}

private func expectKeysUnavailable(_ response: TestResponse, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(response.status == .serviceUnavailable, "\(response.text)", sourceLocation: sourceLocation)
    #expect((try? response.json() as? [String: Any])?["error"] as? String == "auth_unavailable", sourceLocation: sourceLocation)
    #expect(response.headers[.retryAfter] != nil, sourceLocation: sourceLocation)
    #expect(response.headers[.wwwAuthenticate] == nil, sourceLocation: sourceLocation)
}

/// The handle and message of the newest activity.
private func latestAuthor(_ settings: ConnectionSettings) async throws -> (String, String)? {
    try await withTestConnection(settings) { connection in
        let rows = try await connection.query(
            "SELECT u.handle, a.message FROM public.activities a JOIN public.users u ON u.uuid = a.user_uuid ORDER BY a.created_at DESC LIMIT 1",
            logger: TestPostgres.logger
        ).collect()
        return try rows.first.map { try $0.decode((String, String).self) }
    }
}
