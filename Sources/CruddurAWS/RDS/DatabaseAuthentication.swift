import CruddurDatabase
import Foundation

/// How a process signs in to PostgreSQL, from its environment (`DB_AUTH`).
///
/// Which password wins: a password in the URL; else, with `DB_AUTH=iam`, an IAM authentication token made for each new
/// connection; else `PGPASSWORD`; else the password file (`PGPASSFILE` or `~/.pgpass`).
public enum DatabaseAuthentication: String, Sendable, CaseIterable {
    case password
    case iam

    /// `DB_AUTH`'s value (`password` when unset or empty).
    public static func fromEnvironment(_ environment: [String: String]) throws(DatabaseAuthenticationError) -> DatabaseAuthentication {
        let value = environment["DB_AUTH"]?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
        if value.isEmpty { return .password }
        guard let authentication = DatabaseAuthentication(rawValue: value) else {
            throw .unknownMode(value.count > 32 ? String(value.prefix(32)) + "…" : value)
        }
        return authentication
    }

    /// The settings for `url` (named `source` in messages) under `DB_AUTH`.
    ///
    /// With `iam` and no password in the URL, each new connection gets a token for the URL's host, port and user, made
    /// from the AWS credentials of `environment` (region: the RDS endpoint's, else the usual chain). The connection
    /// must be TLS (`sslmode=require` or stronger): the token is a password.
    public static func settings(
        url: String, source: String, environment: [String: String], now: @escaping @Sendable () -> Date = { Date() }
    ) throws -> ConnectionSettings {
        guard try fromEnvironment(environment) == .iam, !ConnectionSettings.urlCarriesPassword(url) else {
            return try ConnectionSettings(url: url, environment: environment)
        }
        var withoutPasswords = environment
        withoutPasswords["PGPASSWORD"] = nil
        withoutPasswords["PGPASSFILE"] = "/dev/null"
        var settings = try ConnectionSettings(url: url, environment: withoutPasswords)
        guard case .tcp(let host, let port) = settings.endpoint else {
            throw DatabaseAuthenticationError.iamNeedsTCP(source: source)
        }
        guard [.require, .verifyCA, .verifyFull].contains(settings.sslMode) else {
            throw DatabaseAuthenticationError.iamNeedsTLS(source: source, sslMode: settings.sslMode.rawValue)
        }
        guard RDSAuthToken.isValidHost(host), RDSAuthToken.isValidUser(settings.username) else {
            throw DatabaseAuthenticationError.iamHostOrUser(source: source)
        }
        let configuration = try AWSConfiguration.resolve(region: RDSAuthToken.region(ofEndpoint: host), environment: environment)
        let tokens = RDSAuthTokenSource(
            host: host, port: port, user: settings.username, region: configuration.region,
            credentials: { try await configuration.requireCredentials(for: "an IAM authentication token") }, now: now)
        settings.password = nil
        settings.passwordSource = ConnectionPasswordSource(name: "an IAM authentication token for \(settings.username)") {
            try await tokens.token()
        }
        return settings
    }
}

/// `DB_AUTH` or the URL it applies to cannot be used; says what to fix.
public enum DatabaseAuthenticationError: CruddurError, Equatable {
    case unknownMode(String)
    case iamNeedsTCP(source: String)
    case iamNeedsTLS(source: String, sslMode: String)
    case iamHostOrUser(source: String)

    public var description: String {
        switch self {
        case .unknownMode(let value):
            "DB_AUTH must be password or iam, not '\(value)'"
        case .iamNeedsTCP(let source):
            "DB_AUTH=iam needs \(source) to name a TCP host (an RDS endpoint), not a unix socket"
        case .iamNeedsTLS(let source, let sslMode):
            "DB_AUTH=iam needs TLS: \(source) has sslmode=\(sslMode); use sslmode=verify-full with the RDS CA bundle (or at least sslmode=require)"
        case .iamHostOrUser(let source):
            "DB_AUTH=iam cannot make a token for \(source): its host must be a DNS name and its user 1–63 bytes"
        }
    }
}
