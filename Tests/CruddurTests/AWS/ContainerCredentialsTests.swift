import CruddurAWS
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// What the stand-in for the ECS agent's credentials endpoint serves, and what it was asked.
actor CredentialsEndpoint {
    let accessKeyId: String
    let secretAccessKey: String
    let authorization: String
    /// Seconds from now the served credentials expire.
    var lifetime: TimeInterval = 3600
    private(set) var hits = 0
    private(set) var refused = 0

    init(accessKeyId: String, secretAccessKey: String, authorization: String) {
        self.accessKeyId = accessKeyId
        self.secretAccessKey = secretAccessKey
        self.authorization = authorization
    }

    func expire(in seconds: TimeInterval) { lifetime = seconds }

    fileprivate func answer(_ presented: String?) -> (HTTPResponse.Status, String) {
        hits += 1
        guard presented == authorization else {
            refused += 1
            return (.unauthorized, #"{"message":"unauthorized"}"#)
        }
        let expiration = ISO8601DateFormatter().string(from: Date() + lifetime)
        return (
            .ok,
            #"{"AccessKeyId":"\#(accessKeyId)","SecretAccessKey":"\#(secretAccessKey)","Token":"","Expiration":"\#(expiration)","RoleArn":"arn:aws:iam::123456789012:role/cruddur-task"}"#
        )
    }

    /// Runs `body` with the endpoint on a loopback port, handing it the endpoint's full URI.
    func serve<Value: Sendable>(_ body: @escaping @Sendable (String) async throws -> Value) async throws -> Value {
        let router = Router()
        router.get("v2/credentials/{id}") { request, _ -> Response in
            let (status, document) = await self.answer(request.headers[.authorization])
            return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: document)))
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), logger: TestPostgres.logger)
        return try await app.test(.live) { client in
            let port = try #require(client.port)
            return try await body("http://127.0.0.1:\(port)/v2/credentials/task-1234")
        }
    }
}

/// The ECS task role's credentials: fetched from the container endpoint (a stand-in on loopback) with its
/// authorization token, used to sign real calls to moto (signature checks on), refreshed before they expire.
@Suite("AWS credentials from the container endpoint (ECS task roles)", .serialized)
struct ContainerCredentialsTests {
    func environment(_ moto: MotoEndpoint, _ extra: [String: String]) -> [String: String] {
        ["AWS_REGION": moto.region, "AWS_ENDPOINT_URL": moto.url, "HOME": makeTemporaryHome()].merging(extra) { $1 }
    }

    @Test("the token authorizes the fetch; the credentials sign calls moto accepts; they are fetched again only near expiry")
    func signsWithTaskRoleCredentials() async throws {
        let moto = try await TestMoto.shared.endpoint()
        let endpoint = CredentialsEndpoint(accessKeyId: moto.accessKeyId, secretAccessKey: moto.secretAccessKey, authorization: "task-token-42")
        try await endpoint.serve { uri in
            let configuration = try AWSConfiguration.resolve(
                environment: environment(moto, ["AWS_CONTAINER_CREDENTIALS_FULL_URI": uri, "AWS_CONTAINER_AUTHORIZATION_TOKEN": "task-token-42"]))
            #expect(configuration.credentials == nil)
            let rds = RDSClient(AWSClient(configuration: configuration))
            _ = try await rds.allDBInstances()
            _ = try await rds.allDBInstances()
            #expect(await endpoint.hits == 1, "fresh credentials are reused")
            let credentials = try await configuration.requireCredentials(for: "the test")
            #expect(credentials.accessKeyId == moto.accessKeyId)
            #expect(credentials.source == "the container credentials endpoint")

            // Credentials with less than 5 minutes left are fetched again before use.
            await endpoint.expire(in: 120)
            let expiring = try AWSConfiguration.resolve(
                environment: environment(moto, ["AWS_CONTAINER_CREDENTIALS_FULL_URI": uri, "AWS_CONTAINER_AUTHORIZATION_TOKEN": "task-token-42"]))
            let before = await endpoint.hits
            _ = try await RDSClient(AWSClient(configuration: expiring)).allDBInstances()
            _ = try await RDSClient(AWSClient(configuration: expiring)).allDBInstances()
            #expect(await endpoint.hits == before + 2)
        }
    }

    @Test("the token file is read at each fetch; a refused token is one clear error without secrets")
    func tokenFileAndRefusal() async throws {
        let moto = try await TestMoto.shared.endpoint()
        let endpoint = CredentialsEndpoint(accessKeyId: moto.accessKeyId, secretAccessKey: moto.secretAccessKey, authorization: "from-file-7")
        try await endpoint.serve { uri in
            let home = makeTemporaryHome()
            let tokenFile = home + "/token"
            try "from-file-7\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
            let fromFile = try AWSConfiguration.resolve(
                environment: environment(
                    moto,
                    [
                        "AWS_CONTAINER_CREDENTIALS_FULL_URI": uri, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": tokenFile,
                        "AWS_CONTAINER_AUTHORIZATION_TOKEN": "ignored-when-a-file-is-given",
                    ]))
            _ = try await RDSClient(AWSClient(configuration: fromFile)).allDBInstances()

            let wrong = try AWSConfiguration.resolve(
                environment: environment(moto, ["AWS_CONTAINER_CREDENTIALS_FULL_URI": uri, "AWS_CONTAINER_AUTHORIZATION_TOKEN": "wrong-token"]))
            do {
                _ = try await RDSClient(AWSClient(configuration: wrong)).allDBInstances()
                Issue.record("a refused token gave credentials")
            } catch {
                let message = String(describing: error)
                #expect(message.contains("refused the authorization token"), "\(message)")
                #expect(!message.contains("wrong-token") && !message.contains(moto.secretAccessKey) && !message.contains("\n"), "\(message)")
            }
            #expect(await endpoint.refused == 1, "a refusal is not retried")
        }
    }

    @Test("the chain: keys in the environment win; the endpoint must be loopback, the ECS agent or https; the relative URI is the agent's")
    func chainAndEndpointRules() throws {
        let keys = try AWSConfiguration.resolve(
            environment: [
                "AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_REGION": "us-east-1", "HOME": makeTemporaryHome(),
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/x",
            ])
        #expect(keys.credentials?.accessKeyId == "AKIDENV")
        #expect(keys.credentialsProvider == nil)

        let relative = try AWSConfiguration.resolve(
            environment: ["AWS_REGION": "us-east-1", "HOME": makeTemporaryHome(), "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/x"])
        #expect(relative.credentialsProvider?.url.absoluteString == "http://169.254.170.2/v2/credentials/x")

        for (variable, value) in [
            ("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://metadata.example.com/creds"),
            ("AWS_CONTAINER_CREDENTIALS_FULL_URI", "ftp://127.0.0.1/creds"),
            ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "@evil.example/creds"),
        ] {
            #expect(throws: AWSError.self, "\(variable)=\(value)") {
                _ = try AWSConfiguration.resolve(environment: ["AWS_REGION": "us-east-1", "HOME": makeTemporaryHome(), variable: value])
            }
        }
        #expect(throws: AWSError.self) {
            _ = try AWSConfiguration.resolve(
                environment: [
                    "AWS_REGION": "us-east-1", "HOME": makeTemporaryHome(), "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:9/creds",
                    "AWS_CONTAINER_AUTHORIZATION_TOKEN": "two\r\nlines",
                ])
        }
        let https = try AWSConfiguration.resolve(
            environment: [
                "AWS_REGION": "us-east-1", "HOME": makeTemporaryHome(), "AWS_CONTAINER_CREDENTIALS_FULL_URI": "https://creds.example.com/x",
            ])
        #expect(https.credentialsProvider != nil)
    }
}
