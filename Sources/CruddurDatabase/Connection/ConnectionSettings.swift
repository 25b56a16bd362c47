import Foundation
import NIOSSL
import PostgresNIO

/// How to reach one PostgreSQL database: parsed from a libpq-style URL, or made for the local cluster.
///
/// The password is kept out of every description: `description` never shows it.
public struct ConnectionSettings: Sendable, Equatable, CustomStringConvertible {
    /// Where the server listens.
    public enum Endpoint: Sendable, Equatable {
        case tcp(host: String, port: Int)
        /// A unix-domain socket directory and the port that names the socket file in it.
        case unixSocket(directory: String, port: Int)
    }

    /// libpq's `sslmode` values.
    public enum SSLMode: String, Sendable, Equatable, CaseIterable {
        case disable, allow, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    public var endpoint: Endpoint
    public var username: String
    public var password: String?
    public var database: String
    public var sslMode: SSLMode
    /// A PEM file of trusted CA certificates (`sslrootcert`), or nil for the system's trust store.
    public var sslRootCertificatePath: String?
    /// Shown in `pg_stat_activity.application_name`.
    public var applicationName: String?
    /// How long to wait for a connection to be made.
    public var connectTimeout: Duration
    /// Makes the password for each new connection instead of `password` (IAM database authentication).
    public var passwordSource: ConnectionPasswordSource?

    public init(
        endpoint: Endpoint, username: String, password: String?, database: String,
        sslMode: SSLMode = .prefer, sslRootCertificatePath: String? = nil,
        applicationName: String? = nil, connectTimeout: Duration = .seconds(5)
    ) {
        self.endpoint = endpoint
        self.username = username
        self.password = password
        self.database = database
        self.sslMode = sslMode
        self.sslRootCertificatePath = sslRootCertificatePath
        self.applicationName = applicationName
        self.connectTimeout = connectTimeout
    }

    /// Equal settings reach the same database the same way; two password sources count as equal.
    public static func == (lhs: ConnectionSettings, rhs: ConnectionSettings) -> Bool {
        lhs.endpoint == rhs.endpoint && lhs.username == rhs.username && lhs.password == rhs.password && lhs.database == rhs.database
            && lhs.sslMode == rhs.sslMode && lhs.sslRootCertificatePath == rhs.sslRootCertificatePath
            && lhs.applicationName == rhs.applicationName && lhs.connectTimeout == rhs.connectTimeout
            && (lhs.passwordSource == nil) == (rhs.passwordSource == nil)
    }

    /// The same server, another database (e.g. `postgres`, to create or drop this one).
    public func with(database: String) -> ConnectionSettings {
        var copy = self
        copy.database = database
        return copy
    }

    /// The same target under another `application_name`.
    public func with(applicationName: String) -> ConnectionSettings {
        var copy = self
        copy.applicationName = applicationName
        return copy
    }

    /// A URL for people: never carries the password.
    public var description: String {
        let user = percentEncode(username)
        switch endpoint {
        case .tcp(let host, let port):
            let hostPart = host.contains(":") ? "[\(host)]" : host
            return "postgresql://\(user)@\(hostPart):\(port)/\(percentEncode(database))"
        case .unixSocket(let directory, let port):
            return "postgresql://\(user)@\(percentEncode(directory)):\(port)/\(percentEncode(database))"
        }
    }

    /// A libpq URL without the password (which goes through a password file), e.g. for `psql`.
    public var libpqURL: String { description + queryString }

    private var queryString: String {
        var items: [String] = []
        if case .tcp = endpoint { items.append("sslmode=\(sslMode.rawValue)") }
        if let sslRootCertificatePath { items.append("sslrootcert=\(percentEncode(sslRootCertificatePath))") }
        return items.isEmpty ? "" : "?" + items.joined(separator: "&")
    }

    /// The PostgresNIO configuration for these settings.
    public func clientConfiguration() throws -> PostgresClient.Configuration {
        var configuration: PostgresClient.Configuration
        switch endpoint {
        case .tcp(let host, let port):
            configuration = PostgresClient.Configuration(
                host: host, port: port, username: username, password: password, database: database,
                tls: try tls()
            )
        case .unixSocket(let directory, let port):
            configuration = PostgresClient.Configuration(
                unixSocketPath: "\(directory)/.s.PGSQL.\(port)", username: username, password: password, database: database
            )
        }
        configuration.options.connectTimeout = connectTimeout
        if let applicationName {
            configuration.options.additionalStartupParameters = [("application_name", applicationName)]
        }
        return configuration
    }

    /// The configuration of a single connection (for the CLI, migrations and the Lambda: errors surface at once).
    public func connectionConfiguration() throws -> PostgresConnection.Configuration {
        var configuration: PostgresConnection.Configuration
        switch endpoint {
        case .tcp(let host, let port):
            let tls: PostgresConnection.Configuration.TLS
            if let choice = try tlsChoice() {
                let sslContext = try NIOSSLContext(configuration: choice.configuration)
                tls = choice.required ? .require(sslContext) : .prefer(sslContext)
            } else {
                tls = .disable
            }
            configuration = PostgresConnection.Configuration(
                host: host, port: port, username: username, password: password, database: database, tls: tls
            )
        case .unixSocket(let directory, let port):
            configuration = PostgresConnection.Configuration(
                unixSocketPath: "\(directory)/.s.PGSQL.\(port)", username: username, password: password, database: database
            )
        }
        configuration.options.connectTimeout = .nanoseconds(Int64(connectTimeout.components.seconds) * 1_000_000_000)
        if let applicationName {
            configuration.options.additionalStartupParameters = [("application_name", applicationName)]
        }
        return configuration
    }

    /// libpq's meaning of `sslmode`, in PostgresNIO's terms.
    func tls() throws -> PostgresClient.Configuration.TLS {
        switch try tlsChoice() {
        case nil: .disable
        case let choice?: choice.required ? .require(choice.configuration) : .prefer(choice.configuration)
        }
    }

    struct TLSChoice {
        var configuration: TLSConfiguration
        var required: Bool
    }

    /// The TLS configuration `sslmode` asks for, nil for none.
    func tlsChoice() throws -> TLSChoice? {
        var tls = TLSConfiguration.makeClientConfiguration()
        switch sslMode {
        case .disable:
            return nil
        case .allow, .prefer:
            tls.certificateVerification = .none
            return TLSChoice(configuration: tls, required: false)
        case .require:
            // As in libpq: with a root certificate given, `require` verifies the chain like `verify-ca`.
            if let sslRootCertificatePath {
                tls.trustRoots = .certificates(try loadCertificates(sslRootCertificatePath))
                tls.certificateVerification = .noHostnameVerification
            } else {
                tls.certificateVerification = .none
            }
            return TLSChoice(configuration: tls, required: true)
        case .verifyCA, .verifyFull:
            if let sslRootCertificatePath {
                tls.trustRoots = .certificates(try loadCertificates(sslRootCertificatePath))
            }
            tls.certificateVerification = sslMode == .verifyFull ? .fullVerification : .noHostnameVerification
            return TLSChoice(configuration: tls, required: true)
        }
    }

    private func loadCertificates(_ path: String) throws -> [NIOSSLCertificate] {
        do {
            let certificates = try NIOSSLCertificate.fromPEMFile(path)
            guard !certificates.isEmpty else { throw ConnectionSettingsError.unreadableRootCertificate(path) }
            return certificates
        } catch {
            throw ConnectionSettingsError.unreadableRootCertificate(path)
        }
    }
}

/// A connection URL or setting that cannot be used, described without secrets.
public enum ConnectionSettingsError: CruddurError, Equatable {
    case invalidURL(String)
    case unsupportedParameter(String)
    case invalidSSLMode(String)
    case invalidPort(String)
    case unreadableRootCertificate(String)
    case passwordInURL(source: String)

    public var description: String {
        switch self {
        case .invalidURL(let reason):
            "invalid connection URL: \(reason)"
        case .unsupportedParameter(let name):
            "invalid connection URL: unsupported query parameter '\(name)'"
        case .invalidSSLMode(let value):
            "invalid connection URL: sslmode '\(value)' is not one of \(ConnectionSettings.SSLMode.allCases.map(\.rawValue).joined(separator: ", "))"
        case .invalidPort(let value):
            "invalid connection URL: port '\(value)' is not a number from 1 to 65535"
        case .unreadableRootCertificate(let path):
            "cannot read the sslrootcert file '\(path)' as PEM certificates"
        case .passwordInURL(let source):
            "\(source) must not carry a password (command lines are visible to every user of the machine); use PGPASSWORD, CONNECTION_URL or ~/.pgpass"
        }
    }
}

func percentEncode(_ text: String) -> String {
    var allowed = CharacterSet.alphanumerics
    allowed.insert(charactersIn: "-._~")
    return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
}
