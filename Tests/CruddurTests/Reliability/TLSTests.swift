import CruddurDatabase
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
