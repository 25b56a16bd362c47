import CruddurDomain
import PostgresNIO

/// The SQL about users.
enum UserStatements {
    /// The `author` CTE of every statement that acts for a post's author: by handle (`$1`) or by Cognito sub (`$2`),
    /// the other one NULL (``PostgresBindings/append(author:)``). Both branches are unique-index lookups; an empty
    /// `cognito_user_id` (a user not linked to Cognito yet) never matches.
    static let authorCTE = """
        author AS (
          SELECT uuid, display_name, handle FROM public.users WHERE handle = $1
          UNION ALL
          SELECT uuid, display_name, handle FROM public.users WHERE cognito_user_id = $2 AND cognito_user_id <> ''
        )
        """

    /// Whether the author exists.
    struct AuthorExists: PostgresPreparedStatement {
        static let name = "cruddur_author_exists"
        static let sql = "WITH \(authorCTE) SELECT EXISTS (SELECT 1 FROM author)"
        typealias Row = Bool
        let author: Author

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 2)
            bindings.append(author: author)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Bool.self) }
    }
}

extension PostgresBindings {
    /// Binds `$n` and `$n+1` of ``UserStatements/authorCTE``: the handle or the Cognito sub, the other NULL.
    mutating func append(author: Author) {
        switch author {
        case .handle(let handle):
            append(handle)
            appendNull()
        case .cognitoSub(let sub):
            appendNull()
            append(sub)
        }
    }
}
