import PostgresNIO

/// A password made afresh for each new connection (IAM database authentication's tokens) instead of a fixed one.
public struct ConnectionPasswordSource: Sendable {
    /// What the password is, for messages ("an IAM authentication token").
    public let name: String
    public let password: @Sendable () async throws -> String

    public init(name: String, password: @escaping @Sendable () async throws -> String) {
        self.name = name
        self.password = password
    }
}

extension ConnectionSettings {
    /// `configuration` with the password for a connection made now: the source's when there is one.
    func withCurrentPassword(
        _ configuration: PostgresConnection.Configuration, operation: String
    ) async throws -> PostgresConnection.Configuration {
        guard let passwordSource else { return configuration }
        var configured = configuration
        do {
            configured.password = try await passwordSource.password()
        } catch {
            throw DatabaseError.unavailable(operation: operation, reason: "cannot make \(passwordSource.name): \(error)")
        }
        return configured
    }
}
