import PostgresNIO

extension UserStatements {
    /// The handle of the user linked to a Cognito user (`sub`); never matches the empty, not-yet-linked id.
    struct HandleByCognitoUserID: PostgresPreparedStatement {
        static let name = "cruddur_user_handle_by_cognito_user_id"
        static let sql = "SELECT handle FROM public.users WHERE cognito_user_id = $1 AND cognito_user_id <> ''"
        typealias Row = String
        let cognitoUserID: String

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 1)
            bindings.append(cognitoUserID)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(String.self) }
    }
}
