import PostgresNIO

/// The SQL of the hot paths exactly as the server prepares it, so benchmarks (pgbench) and `EXPLAIN`
/// can run the very same statements.
public enum PreparedStatementCatalog {
    public struct Entry: Sendable, Equatable {
        public let name: String
        /// What the parameters are, in order.
        public let parameters: [String]
        public let sql: String
    }

    public static let hotPaths: [Entry] = [
        entry(ActivityStatements.HomeFeedFirstPage.self, parameters: ["limit"]),
        entry(ActivityStatements.HomeFeedAfterCursor.self, parameters: ["created_at (ISO-8601 text)", "uuid (text)", "limit"]),
        entry(
            ActivityStatements.CreateActivity.self,
            parameters: [
                "handle (or NULL)", "cognito_user_id (or NULL)", "message", "ttl_seconds", "idempotency_key (or NULL)",
                "posts per window (or NULL: no rate limit)", "window_seconds",
            ]
        ),
        entry(
            ActivityStatements.CreateActivities.self,
            parameters: [
                "author keys (text[]: handles or cognito_user_ids)", "whether each key is a cognito_user_id (bool[])", "messages (text[])",
                "ttl_seconds (int8[])", "posts per window (or NULL: no rate limit)", "window_seconds",
            ]
        ),
        entry(ActivityStatements.PurgeExpired.self, parameters: ["limit"]),
    ]

    private static func entry<Statement: PostgresPreparedStatement>(_ statement: Statement.Type, parameters: [String]) -> Entry {
        Entry(name: Statement.name, parameters: parameters, sql: Statement.sql)
    }
}
