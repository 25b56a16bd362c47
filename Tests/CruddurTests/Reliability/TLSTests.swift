import CruddurAWS
import CruddurDatabase
import CruddurLambda
import CruddurLocalPostgres
import Foundation
import PostgresNIO
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A cluster with `ssl = on` and a certificate for `localhost` signed by a CA the test makes, as RDS is
/// reached with its CA bundle; plus a second CA that signed nothing of the server's.
private actor TLSCluster {
    static let shared = TLSCluster()
    static let password = "tls-Secret-42"

    struct Started {
        let port: Int
        let caPath: String
        let otherCAPath: String
    }

    private var started: (Started, LocalClusterLease)?

    func start() async throws -> Started {
        if let started { return started.0 }
        var template = Array((NSTemporaryDirectory() + "cruddur-tls-XXXXXX").utf8CString)
        guard let created = mkdtemp(&template) else { throw TLSTestError("cannot create a temporary folder") }
        let directory = String(cString: created)
        chmod(directory, 0o755)
        let script = """
            set -e
            openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj '/CN=Cruddur Test CA' 2>/dev/null
            openssl req -x509 -newkey rsa:2048 -nodes -keyout other-ca.key -out other-ca.pem -days 2 -subj '/CN=Someone Else CA' 2>/dev/null
            openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj '/CN=localhost' 2>/dev/null
            printf 'subjectAltName=DNS:localhost\\nbasicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth\\n' > server.ext
            openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile server.ext 2>/dev/null
            chmod 600 server.key
            if [ "$(id -u)" = 0 ]; then chown postgres server.key server.pem; fi
            """
        let openssl = try SpawnedProcess(["/bin/sh", "-c", script], directory: directory)
        guard openssl.wait() == 0 else { throw TLSTestError("openssl could not make the test certificates") }

        let port = try freePort()
        let cluster = try await LocalCluster.temporary(
            label: "tls", superuserPassword: Self.password, tcpPort: port,
            extraSettings: [
                "ssl = on",
                "ssl_cert_file = '\(directory)/server.pem'",
                "ssl_key_file = '\(directory)/server.key'",
            ])
        let lease = try await cluster.acquire(logger: TestPostgres.logger)
        let result = Started(port: port, caPath: directory + "/ca.pem", otherCAPath: directory + "/other-ca.pem")
        started = (result, lease)
        return result
    }
}

private struct TLSTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Connects with `url` (password from PGPASSWORD) and reports whether the session is encrypted.
private func encryptedSession(_ url: String) async throws -> Bool {
    let settings = try ConnectionSettings(url: url, environment: ["PGPASSWORD": TLSCluster.password])
    return try await Database.withConnection(settings, logger: TestPostgres.logger, operation: "checking TLS") { connection in
        let rows = try await connection.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", logger: TestPostgres.logger)
        for try await ssl in rows.decode(Bool.self) { return ssl }
        return false
    }
}

@Suite("TLS to PostgreSQL: sslmode as libpq means it, against a cluster with ssl = on", .serialized)
struct TLSTests {
    @Test("require encrypts without verifying; verify-ca and verify-full check the CA (and the host name)")
    func acceptedModes() async throws {
        let tls = try await TLSCluster.shared.start()
        let ca = tls.caPath.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        #expect(try await encryptedSession("postgresql://postgres@127.0.0.1:\(tls.port)/postgres?sslmode=require"))
        #expect(try await encryptedSession("postgresql://postgres@localhost:\(tls.port)/postgres?sslmode=verify-full&sslrootcert=\(ca)"))
        #expect(try await encryptedSession("postgresql://postgres@127.0.0.1:\(tls.port)/postgres?sslmode=verify-ca&sslrootcert=\(ca)"))
        #expect(try await encryptedSession("postgresql://postgres@127.0.0.1:\(tls.port)/postgres?sslmode=prefer"))
        #expect(try await !encryptedSession("postgresql://postgres@127.0.0.1:\(tls.port)/postgres?sslmode=disable"))
    }

    @Test("verify-full refuses a wrong host name and an untrusted CA, with a clear error")
    func refusedModes() async throws {
        let tls = try await TLSCluster.shared.start()
        let ca = tls.caPath.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        let otherCA = tls.otherCAPath.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        for (url, expected) in [
            ("postgresql://postgres@127.0.0.1:\(tls.port)/postgres?sslmode=verify-full&sslrootcert=\(ca)", "does not name this host"),
            ("postgresql://postgres@localhost:\(tls.port)/postgres?sslmode=verify-full&sslrootcert=\(otherCA)", "not signed by a CA in sslrootcert"),
            ("postgresql://postgres@localhost:\(tls.port)/postgres?sslmode=verify-ca&sslrootcert=\(otherCA)", "not signed by a CA in sslrootcert"),
        ] {
            let started = ContinuousClock.now
            do {
                _ = try await encryptedSession(url)
                Issue.record("connected although the certificate should be refused: \(url)")
            } catch {
                let message = String(describing: error)
                print("tls: \(url.split(separator: "?").last ?? "") → \(message)")
                #expect(message.contains(expected), "\(message)")
                #expect(!message.contains(TLSCluster.password))
                #expect(!message.contains("\n"))
            }
            #expect(ContinuousClock.now - started < .seconds(10))
        }
    }

    @Test("a missing sslrootcert file is a clear configuration error")
    func missingRootCertificate() async throws {
        let tls = try await TLSCluster.shared.start()
        do {
            _ = try await encryptedSession(
                "postgresql://postgres@localhost:\(tls.port)/postgres?sslmode=verify-full&sslrootcert=%2Fnonexistent%2Fca.pem")
            Issue.record("connected without the root certificate file")
        } catch {
            #expect(String(describing: error).contains("/nonexistent/ca.pem"), "\(error)")
        }
    }
}

/// `DB_AUTH=iam` against the TLS cluster: a role whose password is the token for a fixed instant (PostgreSQL stands in
/// for RDS, which checks the token's signature instead), and a clock pinned to that instant.
@Suite("DB_AUTH=iam: each new connection signs in with an IAM token, over TLS only", .serialized)
struct IAMDatabaseAuthenticationTests {
    static let instant = Date(timeIntervalSince1970: 1_796_198_415)
    static let environment = [
        "DB_AUTH": "iam", "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        "AWS_REGION": "us-east-1", "HOME": "/nonexistent", "PGPASSWORD": TLSCluster.password,
    ]

    /// Makes `role` with the token for `instant` as its password; returns the URL without a password.
    func prepareRole(_ role: String, port: Int) async throws -> String {
        let token = RDSAuthToken.make(
            host: "127.0.0.1", port: port, user: role, region: "us-east-1",
            credentials: AWSCredentials(accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
            date: Self.instant)
        let admin = try ConnectionSettings(
            url: "postgresql://postgres@127.0.0.1:\(port)/postgres?sslmode=require", environment: ["PGPASSWORD": TLSCluster.password])
        try await Database.withConnection(admin, logger: TestPostgres.logger, operation: "making the IAM role") { connection in
            _ = try await connection.query(PostgresQuery(unsafeSQL: "DROP ROLE IF EXISTS \(role)"), logger: TestPostgres.logger).collect()
            _ = try await connection.query(
                "SELECT set_config('cruddur.iam_token', \(token), false)", logger: TestPostgres.logger
            ).collect()
            _ = try await connection.query(
                PostgresQuery(
                    unsafeSQL: "DO $$ BEGIN EXECUTE format('CREATE ROLE \(role) LOGIN PASSWORD %L', current_setting('cruddur.iam_token')); END $$"),
                logger: TestPostgres.logger
            ).collect()
        }
        return "postgresql://\(role)@127.0.0.1:\(port)/postgres?sslmode=require"
    }

    @Test("the token reaches PostgreSQL as the password, for single connections and for the pool's, over TLS")
    func tokenIsThePassword() async throws {
        let tls = try await TLSCluster.shared.start()
        let url = try await prepareRole("iam_app", port: tls.port)
        let settings = try DatabaseAuthentication.settings(url: url, source: "CONNECTION_URL", environment: Self.environment, now: { Self.instant })
        #expect(settings.password == nil, "PGPASSWORD must not be used under DB_AUTH=iam")
        #expect(settings.passwordSource != nil)

        let (user, encrypted) = try await Database.withConnection(settings, logger: TestPostgres.logger, operation: "signing in") { connection in
            let rows = try await connection.query(
                "SELECT current_user::text, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", logger: TestPostgres.logger)
            for try await row in rows.decode((String, Bool).self) { return row }
            return ("", false)
        }
        #expect(user == "iam_app")
        #expect(encrypted)

        let pool = try DatabasePool(settings: settings, size: 2, logger: TestPostgres.logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await pool.run() }
            for _ in 0..<4 {
                let answer = try await pool.withConnection(operation: "pooled query") { connection in
                    let rows = try await connection.query("SELECT current_user::text", logger: TestPostgres.logger)
                    for try await name in rows.decode(String.self) { return name }
                    return ""
                }
                #expect(answer == "iam_app")
            }
            group.cancelAll()
        }

        // Another instant's token is another password: PostgreSQL refuses it, and the error shows no token.
        let later = try DatabaseAuthentication.settings(
            url: url, source: "CONNECTION_URL", environment: Self.environment, now: { Self.instant + 600 })
        do {
            try await Database.withConnection(later, logger: TestPostgres.logger, operation: "signing in later") { _ in }
            Issue.record("a token for another instant was accepted")
        } catch {
            let message = String(describing: error)
            #expect(message.contains("password authentication failed"), "\(message)")
            #expect(!message.contains("X-Amz-Signature"), "\(message)")
        }
    }

    @Test("which password wins: one in the URL; DB_AUTH=password or unset uses PGPASSWORD")
    func precedence() throws {
        let withPassword = try DatabaseAuthentication.settings(
            url: "postgresql://app:in-url@db.example.com:5432/cruddur?sslmode=require", source: "CONNECTION_URL", environment: Self.environment)
        #expect(withPassword.password == "in-url")
        #expect(withPassword.passwordSource == nil)
        for mode in ["password", "", "PASSWORD"] {
            var environment = Self.environment
            environment["DB_AUTH"] = mode
            let settings = try DatabaseAuthentication.settings(
                url: "postgresql://app@db.example.com:5432/cruddur?sslmode=require", source: "CONNECTION_URL", environment: environment)
            #expect(settings.password == TLSCluster.password)
            #expect(settings.passwordSource == nil)
        }
    }

    @Test(
        "refused in one line: below sslmode=require, a unix socket, an unknown DB_AUTH, no AWS credentials",
        arguments: [
            ("postgresql://app@db.example.com/cruddur?sslmode=prefer", "iam", "sslmode=prefer"),
            ("postgresql://app@db.example.com/cruddur?sslmode=disable", "iam", "needs TLS"),
            ("postgresql://app@%2Ftmp/cruddur", "iam", "not a unix socket"),
            ("postgresql://app@db.example.com/cruddur?sslmode=require", "kerberos", "DB_AUTH must be password or iam"),
        ])
    func refusals(url: String, mode: String, expected: String) {
        var environment = Self.environment
        environment["DB_AUTH"] = mode
        do {
            _ = try DatabaseAuthentication.settings(url: url, source: "CONNECTION_URL", environment: environment)
            Issue.record("accepted \(url) with DB_AUTH=\(mode)")
        } catch {
            #expect(String(describing: error).contains(expected), "\(error)")
            #expect(!String(describing: error).contains("\n"))
        }
    }

    @Test("cruddur db status with DB_AUTH=iam and no AWS credentials fails in one line, and the Lambda refuses its configuration")
    func missingCredentials() async throws {
        let tls = try await TLSCluster.shared.start()
        let url = "postgresql://iam_app@127.0.0.1:\(tls.port)/postgres?sslmode=require"
        let result = try await runTool(
            cruddurExecutable, ["db", "status"],
            environment: [
                "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "HOME": makeTemporaryHome(), "CONNECTION_URL": url,
                "DB_AUTH": "iam", "AWS_REGION": "us-east-1",
            ])
        #expect(result.status == 1, "\(result)")
        #expect(result.stderr.contains("no AWS credentials"), "\(result)")
        #expect(result.stderr.trimmingCharacters(in: .newlines).split(separator: "\n").count == 1, "\(result)")

        #expect(throws: LambdaConfigurationError.self) {
            _ = try LambdaConfiguration(environment: ["CONNECTION_URL": url.replacingOccurrences(of: "require", with: "prefer"), "DB_AUTH": "iam"])
        }
        let lambda = try LambdaConfiguration(environment: Self.environment.merging(["CONNECTION_URL": url]) { $1 })
        #expect(lambda.settings.passwordSource != nil)
    }
}
