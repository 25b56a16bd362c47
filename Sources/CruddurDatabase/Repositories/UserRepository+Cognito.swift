extension UserRepository {
    /// The handle of the user whose `cognito_user_id` is `cognitoUserID`; nil when no user is linked to it yet.
    public func handle(forCognitoUserID cognitoUserID: String) async throws -> String? {
        guard !cognitoUserID.isEmpty else { return nil }
        return try await pool.withConnection(operation: "looking up a Cognito user") { [logger] connection in
            for try await handle in try await connection.execute(UserStatements.HandleByCognitoUserID(cognitoUserID: cognitoUserID), logger: logger) {
                return handle
            }
            return nil
        }
    }
}
