import CruddurAWS
import Foundation
import Testing

/// The AWS client against moto_server with signature checks on.
@Suite("AWS client against moto_server: signatures are checked", .serialized)
struct AWSClientMotoTests {
    func client(_ moto: MotoEndpoint, secret: String? = nil, accessKey: String? = nil, timeout: Duration = .seconds(30)) -> AWSClient {
        AWSClient(
            configuration: AWSConfiguration(
                credentials: AWSCredentials(accessKeyId: accessKey ?? moto.accessKeyId, secretAccessKey: secret ?? moto.secretAccessKey),
                region: moto.region,
                endpointOverride: URL(string: moto.url)
            ),
            timeout: timeout
        )
    }

    @Test("a correctly signed request succeeds; a wrongly signed one fails with SignatureDoesNotMatch; an unknown key is refused")
    func signatures() async throws {
        let moto = try await TestMoto.shared.endpoint()
        let identifier = "sig-\(UUID().uuidString.prefix(8).lowercased())"
        let rds = RDSClient(client(moto))
        _ = try await rds.createDBInstance(RDSClient.CreateRequest(identifier: identifier))
        #expect(try await rds.describeDBInstance(identifier).identifier == identifier)

        do {
            _ = try await RDSClient(client(moto, secret: moto.secretAccessKey + "x")).describeDBInstance(identifier)
            Issue.record("a wrongly signed request succeeded")
        } catch let error as AWSError {
            #expect(error.code == "SignatureDoesNotMatch", "\(error)")
            #expect(error.isAuthFailure)
            #expect(!String(describing: error).contains(moto.secretAccessKey))
        }
        do {
            _ = try await EC2Client(client(moto, accessKey: "AKIAUNKNOWN0000000")).describeSecurityGroupRule("sgr-0123456789abcdef0")
            Issue.record("an unknown key was accepted")
        } catch let error as AWSError {
            #expect(error.isAuthFailure, "\(error)")
        }
    }

    @Test(
        "AWS error codes come through typed: DBInstanceNotFound, InvalidDBInstanceState, InvalidParameterCombination, InvalidSecurityGroupRuleId.NotFound"
    )
    func typedErrors() async throws {
        let moto = try await TestMoto.shared.endpoint()
        let rds = RDSClient(client(moto))
        #expect(
            await expectAWSError(code: "DBInstanceNotFound") { try await rds.describeDBInstance("nope-\(UUID().uuidString.prefix(6).lowercased())") })
        let identifier = "typed-\(UUID().uuidString.prefix(8).lowercased())"
        _ = try await rds.createDBInstance(RDSClient.CreateRequest(identifier: identifier))
        #expect(await expectAWSError(code: "InvalidDBInstanceState") { try await rds.startDBInstance(identifier) })
        #expect(
            await expectAWSError(code: "InvalidParameterCombination") { try await rds.deleteDBInstance(identifier, finalSnapshotIdentifier: nil) })
        let (groupId, _) = try await moto.makeSecurityGroupRule()
        #expect(
            await expectAWSError(code: "InvalidSecurityGroupRuleId.NotFound") {
                try await EC2Client(client(moto)).allowTCP(
                    groupId: groupId, ruleId: "sgr-0123456789abcdef0", port: 5432, from: try IPRange("203.0.113.9"), description: "x")
            })
    }

    @Test("Secrets Manager's JSON protocol reads the managed master password; a missing secret is ResourceNotFoundException")
    func secretsManager() async throws {
        let moto = try await TestMoto.shared.endpoint()
        let identifier = "secret-\(UUID().uuidString.prefix(8).lowercased())"
        let created = try await RDSClient(client(moto)).createDBInstance(RDSClient.CreateRequest(identifier: identifier))
        let arn = try #require(created.masterUserSecretArn)
        let secrets = SecretsManagerClient(client(moto))
        let credentials = try await secrets.databaseCredentials(secretId: arn)
        #expect(!credentials.password.isEmpty)
        #expect(await expectAWSError(code: "ResourceNotFoundException") { try await secrets.databaseCredentials(secretId: "no-such-secret") })
    }

    @Test("an endpoint that does not answer fails within the deadline as unreachable")
    func unreachable() async throws {
        let port = try freePort()
        let configuration = AWSConfiguration(
            credentials: AWSCredentials(accessKeyId: "a", secretAccessKey: "b"), region: "us-east-1",
            endpointOverride: URL(string: "http://127.0.0.1:\(port)")
        )
        let started = ContinuousClock.now
        let error = await #expect(throws: AWSError.self) {
            try await RDSClient(AWSClient(configuration: configuration, timeout: .seconds(2))).describeDBInstance("x")
        }
        if case .unreachable = error {} else { Issue.record("not unreachable: \(String(describing: error))") }
        #expect(ContinuousClock.now - started < .seconds(5), "one deadline, not one per retry")
    }
}

/// True when `body` throws an `AWSError` with this AWS error code.
func expectAWSError(code: String, _ body: () async throws -> some Any) async -> Bool {
    do {
        _ = try await body()
        return false
    } catch let error as AWSError {
        return error.code == code
    } catch {
        return false
    }
}
