import CruddurAWS
import Foundation
import Synchronization
import Testing

/// IAM database authentication tokens, checked byte for byte against botocore's `generate_db_auth_token` (which the
/// `aws` CLI ships) at the same fixed instant.
@Suite("rds auth-token: IAM database authentication tokens as botocore makes them")
struct RDSAuthTokenTests {
    static let instant = Date(timeIntervalSince1970: 1_796_198_415) // 2026-12-02T08:00:15Z
    static let credentials = AWSCredentials(accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    static let temporary = AWSCredentials(
        accessKeyId: "ASIAEXAMPLE", secretAccessKey: "c2VjcmV0/with+odd=chars", sessionToken: "FwoGZXIvYXdzEJr//////////wEaDO+token=="
    )

    /// botocore's token for the same inputs at `instant`; the secret travels in the child's environment, not its argv.
    func botocoreToken(host: String, port: Int, user: String, region: String, credentials: AWSCredentials, instant: Date) async throws -> String {
        let script = """
            import datetime, os
            from unittest import mock
            import botocore.session
            e = os.environ
            at = datetime.datetime.fromtimestamp(int(e['AT']), datetime.timezone.utc).replace(tzinfo=None)
            with mock.patch('botocore.auth.get_current_datetime', return_value=at):
                client = botocore.session.get_session().create_client(
                    'rds', region_name=e['REGION'], aws_access_key_id=e['KEY'], aws_secret_access_key=e['SECRET'],
                    aws_session_token=e.get('TOKEN') or None)
                print(client.generate_db_auth_token(e['DBHOST'], int(e['DBPORT']), e['DBUSER']))
            """
        var environment = [
            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin", "HOME": makeTemporaryHome(),
            "AT": String(Int(instant.timeIntervalSince1970)), "REGION": region, "KEY": credentials.accessKeyId,
            "SECRET": credentials.secretAccessKey, "DBHOST": host, "DBPORT": String(port), "DBUSER": user,
        ]
        if let token = credentials.sessionToken { environment["TOKEN"] = token }
        for name in ["PYENV_ROOT", "PYENV_VERSION"] {
            if let value = ProcessInfo.processInfo.environment[name] { environment[name] = value }
        }
        let result = try await runTool("python3", ["-c", script], environment: environment, timeout: .seconds(60))
        try #require(result.status == 0, "\(result)")
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test(
        "the same bytes as botocore: plain and temporary credentials, default and other ports, a user that needs encoding",
        arguments: [
            ("cruddur-db-instance.abcdefghijkl.us-east-1.rds.amazonaws.com", 5432, "cruddur_app", "us-east-1", false),
            ("cruddur-db-instance.abcdefghijkl.eu-west-2.rds.amazonaws.com", 6543, "cruddurroot", "eu-west-2", true),
            ("localhost", 5432, "app user+1@example", "ap-southeast-2", true),
        ])
    func matchesBotocore(host: String, port: Int, user: String, region: String, temporaryCredentials: Bool) async throws {
        let credentials = temporaryCredentials ? Self.temporary : Self.credentials
        let ours = RDSAuthToken.make(host: host, port: port, user: user, region: region, credentials: credentials, date: Self.instant)
        let theirs = try await botocoreToken(host: host, port: port, user: user, region: region, credentials: credentials, instant: Self.instant)
        #expect(ours == theirs)
        #expect(ours.hasPrefix("\(host):\(port)/?Action=connect&DBUser="))
        #expect(ours.contains("X-Amz-Date=20261202T080015Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host"))
        #expect(!ours.contains(credentials.secretAccessKey))
    }

    @Test("the region is read from an RDS endpoint's name; other hosts have none")
    func endpointRegion() {
        #expect(RDSAuthToken.region(ofEndpoint: "cruddur-db-instance.abcdefghijkl.us-east-1.rds.amazonaws.com") == "us-east-1")
        #expect(RDSAuthToken.region(ofEndpoint: "X.Y.EU-CENTRAL-1.RDS.AMAZONAWS.COM") == "eu-central-1")
        #expect(RDSAuthToken.region(ofEndpoint: "localhost") == nil)
        #expect(RDSAuthToken.region(ofEndpoint: "db.example.com") == nil)
        #expect(RDSAuthToken.region(ofEndpoint: "a.b.rds.amazonaws.com.evil.example") == nil)
    }

    @Test("a token is reused for 5 minutes, then made again from the current credentials")
    func tokenReuse() async throws {
        let clock = TestClock(Self.instant)
        let fetches = Counter()
        let source = RDSAuthTokenSource(
            host: "localhost", port: 5432, user: "app", region: "us-east-1",
            credentials: {
                fetches.increment()
                return Self.credentials
            }, now: { clock.now })
        let first = try await source.token()
        clock.advance(by: 299)
        #expect(try await source.token() == first)
        #expect(fetches.value == 1)
        clock.advance(by: 2)
        let second = try await source.token()
        #expect(second != first)
        #expect(fetches.value == 2)
        #expect(
            second
                == RDSAuthToken.make(host: "localhost", port: 5432, user: "app", region: "us-east-1", credentials: Self.credentials, date: clock.now))
    }

    @Test("cruddur rds auth-token prints botocore's token for its instant; bad arguments are one line")
    func command() async throws {
        let host = "cruddur-db-instance.abcdefghijkl.eu-west-1.rds.amazonaws.com"
        let environment = [
            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "HOME": makeTemporaryHome(),
            "AWS_ACCESS_KEY_ID": Self.credentials.accessKeyId, "AWS_SECRET_ACCESS_KEY": Self.credentials.secretAccessKey,
            "AWS_DEFAULT_REGION": "us-east-1",
        ]
        let result = try await runTool(cruddurExecutable, ["rds", "auth-token", "--host", host, "--user", "cruddur_app"], environment: environment)
        #expect(result.status == 0, "\(result)")
        let token = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(token.contains("%2Feu-west-1%2Frds-db%2Faws4_request"), "the endpoint's region wins: \(token)")
        let dateText = try #require(token.split(separator: "&").first { $0.hasPrefix("X-Amz-Date=") }?.dropFirst("X-Amz-Date=".count))
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        let instant = try #require(formatter.date(from: String(dateText)))
        #expect(
            token
                == (try await botocoreToken(
                    host: host, port: 5432, user: "cruddur_app", region: "eu-west-1", credentials: Self.credentials, instant: instant)))
        #expect(!result.stdout.contains(Self.credentials.secretAccessKey) && !result.stderr.contains(Self.credentials.secretAccessKey))

        for arguments in [
            ["--host", "db;rm -rf /", "--user", "u"], ["--host", host, "--user", ""], ["--host", host, "--user", "u", "--port", "70000"],
            ["--user", "u"],
        ] {
            let bad = try await runTool(cruddurExecutable, ["rds", "auth-token"] + arguments, environment: environment)
            #expect(bad.status != 0, "\(arguments): \(bad)")
            #expect(bad.stdout.isEmpty, "\(arguments): \(bad)")
        }
        var noKeys = environment
        noKeys["AWS_ACCESS_KEY_ID"] = nil
        noKeys["AWS_SECRET_ACCESS_KEY"] = nil
        let missing = try await runTool(cruddurExecutable, ["rds", "auth-token", "--host", host, "--user", "u"], environment: noKeys)
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("no AWS credentials"), "\(missing)")
        #expect(missing.stderr.trimmingCharacters(in: .newlines).split(separator: "\n").count == 1, "\(missing)")
    }
}

/// A clock tests move by hand.
final class TestClock: Sendable {
    private let current: Mutex<Date>
    init(_ start: Date) { current = Mutex(start) }
    var now: Date { current.withLock { $0 } }
    func advance(by seconds: TimeInterval) { current.withLock { $0 += seconds } }
}

/// A thread-safe count.
final class Counter: Sendable {
    private let count = Mutex(0)
    func increment() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}
