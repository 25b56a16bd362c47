import CruddurDomain
import Logging
import PostgresNIO

/// Stores the users Cognito confirms. Every call has a deadline, so an unreachable database is an error in time.
///
/// The policy (see the README's Lambda section):
/// - the row is keyed by `cognito_user_id = sub`: a repeated or retried confirmation never adds a second row;
/// - e-mail, display name and handle follow Cognito: a confirmation with changed attributes updates the row;
/// - a handle that another row already holds is an error (``CognitoUserRepositoryError/handleTaken(handle:)``)
///   and nothing is written, not even the other attributes.
public struct CognitoUserRepository: Sendable {
    /// What an upsert did.
    public enum Outcome: Sendable, Equatable {
        case created(uuid: String)
        case updated(uuid: String)
        /// The row already held exactly these attributes; nothing was written.
        case unchanged
    }

    /// A stored user, as the tests and `cruddur lambda invoke` show it.
    public struct StoredUser: Sendable, Equatable {
        public let uuid: String
        public let cognitoUserID: String
        public let email: String
        public let displayName: String
        public let handle: String

        public init(uuid: String, cognitoUserID: String, email: String, displayName: String, handle: String) {
            self.uuid = uuid
            self.cognitoUserID = cognitoUserID
            self.email = email
            self.displayName = displayName
            self.handle = handle
        }
    }

    let pool: DatabasePool
    let logger: Logger

    public init(pool: DatabasePool, logger: Logger) {
        self.pool = pool
        self.logger = logger
    }

    /// Inserts the user or updates their row; `deadline` (default: the pool's) bounds waiting for a
    /// connection and the query together.
    public func upsert(_ user: CognitoUser, deadline: Duration? = nil) async throws -> Outcome {
        try await pool.withCommittedWrite(
            operation: "storing a confirmed Cognito user", statement: CognitoUserStatements.Upsert.name, deadline: deadline
        ) { [logger] connection in
            do {
                for try await row in try await connection.execute(CognitoUserStatements.Upsert(user: user), logger: logger) {
                    return row.inserted ? .created(uuid: row.uuid) : .updated(uuid: row.uuid)
                }
                return .unchanged
            } catch let error as PSQLError
                where error.serverInfo?[.sqlState] == "23505" && error.serverInfo?[.constraintName] == "users_handle_key"
            {
                throw CognitoUserRepositoryError.handleTaken(handle: user.handle)
            }
        }
    }

    /// The row of the user with this Cognito `sub`, if any.
    public func find(cognitoUserID: String) async throws -> StoredUser? {
        try await pool.withConnection(operation: "reading a Cognito user", statement: CognitoUserStatements.FindByCognitoID.name) {
            [logger] connection in
            for try await row in try await connection.execute(CognitoUserStatements.FindByCognitoID(cognitoUserID: cognitoUserID), logger: logger) {
                return row
            }
            return nil
        }
    }
}

/// A confirmed user that cannot be stored as Cognito describes them.
public enum CognitoUserRepositoryError: CruddurError, Equatable {
    /// Another user already has this handle (`preferred_username`).
    case handleTaken(handle: String)

    public var description: String {
        switch self {
        case .handleTaken(let handle):
            "the handle '\(handle)' already belongs to another user; nothing was stored"
        }
    }
}
