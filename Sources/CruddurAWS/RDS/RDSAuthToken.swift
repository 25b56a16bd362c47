import Foundation
import NIOConcurrencyHelpers

/// IAM database authentication's password: a presigned `rds-db:connect` request for one host, port and user,
/// valid for 15 minutes. Byte for byte what botocore's `generate_db_auth_token` makes for the same credentials and
/// instant.
public enum RDSAuthToken {
    /// How long RDS accepts a token after it is made.
    public static let lifetime: Duration = .seconds(900)

    public static func make(host: String, port: Int, user: String, region: String, credentials: AWSCredentials, date: Date) -> String {
        let hostAndPort = "\(host):\(port)"
        let query = SigV4Signer(credentials: credentials, region: region, service: "rds-db").presignedQuery(
            host: hostAndPort, parameters: [("Action", "connect"), ("DBUser", user)],
            expires: Int(lifetime.components.seconds), date: date
        )
        return "\(hostAndPort)/?\(query)"
    }

    /// A host name a token can be made for: letters, digits, `-` and `.` (an RDS endpoint), at most 253 characters.
    public static func isValidHost(_ host: String) -> Bool {
        !host.isEmpty && host.utf8.count <= 253 && !host.hasPrefix("-") && !host.hasPrefix(".")
            && host.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "-" || $0 == ".") }
    }

    /// A database user name a token can be made for: 1–63 bytes (PostgreSQL's limit), no control characters.
    public static func isValidUser(_ user: String) -> Bool {
        !user.isEmpty && user.utf8.count <= 63 && !user.unicodeScalars.contains { CharacterSet.controlCharacters.contains($0) }
    }

    /// The region in an RDS endpoint's name (`<id>.<hash>.<region>.rds.amazonaws.com`), nil for other hosts.
    public static func region(ofEndpoint host: String) -> String? {
        let labels = host.lowercased().split(separator: ".")
        guard labels.count >= 5, labels.suffix(3) == ["rds", "amazonaws", "com"] else { return nil }
        let region = String(labels[labels.count - 4])
        return AWSConfiguration.isValidRegion(region) ? region : nil
    }
}

/// Tokens for new connections to one database user: a token is made from the current credentials and reused while
/// it is younger than `reuseFor` (5 minutes), so every connection gets one made within the last 10 minutes (RDS
/// accepts it for 15).
public final class RDSAuthTokenSource: Sendable {
    public let host: String
    public let port: Int
    public let user: String
    public let region: String
    private let credentials: @Sendable () async throws -> AWSCredentials
    private let now: @Sendable () -> Date
    private let reuseFor: TimeInterval
    private let cached = NIOLockedValueBox<(token: String, madeAt: Date)?>(nil)

    public init(
        host: String, port: Int, user: String, region: String,
        credentials: @escaping @Sendable () async throws -> AWSCredentials,
        reuseFor: Duration = .seconds(300),
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.host = host
        self.port = port
        self.user = user
        self.region = region
        self.credentials = credentials
        self.reuseFor = TimeInterval(reuseFor.components.seconds)
        self.now = now
    }

    /// A token made within the last `reuseFor`.
    public func token() async throws -> String {
        let instant = now()
        if let cached = cached.withLockedValue({ $0 }), instant.timeIntervalSince(cached.madeAt) < reuseFor, instant >= cached.madeAt {
            return cached.token
        }
        let token = RDSAuthToken.make(host: host, port: port, user: user, region: region, credentials: try await credentials(), date: instant)
        cached.withLockedValue { $0 = (token, instant) }
        return token
    }
}
