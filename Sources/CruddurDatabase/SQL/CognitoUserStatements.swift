import CruddurDomain
import PostgresNIO

/// The SQL of the Cognito post-confirmation trigger, with bound parameters only.
enum CognitoUserStatements {
    /// Inserts the user, or brings the row with the same `cognito_user_id` up to date with Cognito.
    ///
    /// One statement, so a concurrent retry of the same confirmation cannot insert the user twice: the partial
    /// unique index `users_cognito_user_id_key` is the arbiter. An unchanged row is not rewritten (no row is
    /// returned then); a handle held by another row fails the whole statement on `users_handle_key`.
    /// `xmax = 0` holds for a row this statement inserted, not for one it updated.
    struct Upsert: PostgresPreparedStatement {
        static let name = "cruddur_cognito_user_upsert"
        static let sql = """
            INSERT INTO public.users AS u (cognito_user_id, email, display_name, handle)
            VALUES ($1, $2, $3, $4)
            ON CONFLICT (cognito_user_id) WHERE cognito_user_id IS NOT NULL AND cognito_user_id <> ''
            DO UPDATE SET email = EXCLUDED.email, display_name = EXCLUDED.display_name, handle = EXCLUDED.handle
              WHERE (u.email, u.display_name, u.handle) IS DISTINCT FROM (EXCLUDED.email, EXCLUDED.display_name, EXCLUDED.handle)
            RETURNING u.uuid::text, (u.xmax = 0)
            """
        /// The user's row, and whether this statement inserted it (rather than updated it).
        struct Row {
            let uuid: String
            let inserted: Bool
        }

        let user: CognitoUser

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 4)
            bindings.append(user.cognitoUserID)
            bindings.append(user.email)
            bindings.append(user.displayName)
            bindings.append(user.handle)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Row {
            let (uuid, inserted) = try row.decode((String, Bool).self)
            return Row(uuid: uuid, inserted: inserted)
        }
    }

    /// The row of a Cognito user, for `cruddur lambda invoke` and the tests.
    struct FindByCognitoID: PostgresPreparedStatement {
        static let name = "cruddur_cognito_user_find"
        static let sql = """
            SELECT uuid::text, cognito_user_id, email, display_name, handle
            FROM public.users WHERE cognito_user_id = $1
            """
        typealias Row = CognitoUserRepository.StoredUser
        let cognitoUserID: String

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 1)
            bindings.append(cognitoUserID)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Row {
            let (uuid, cognitoUserID, email, displayName, handle) = try row.decode((String, String, String, String, String).self)
            return Row(uuid: uuid, cognitoUserID: cognitoUserID, email: email, displayName: displayName, handle: handle)
        }
    }
}
