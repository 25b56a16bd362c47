import CruddurDomain
import PostgresNIO

/// The SQL behind `Idempotency-Key` on posts. Keys are scoped to their author: the primary key is (author, key).
enum IdempotencyStatements {
    /// What an author's earlier request with this key (`$3`) asked for and created, and whether the key is past
    /// 24 hours. The key is claimed by ``ActivityStatements/CreateActivity``.
    struct Recorded: PostgresPreparedStatement {
        static let name = "cruddur_recorded_idempotency_key"
        static let sql = """
            WITH \(UserStatements.authorCTE)
            SELECT k.message, k.ttl_seconds, k.activity_uuid::text, author.display_name, author.handle,
                   (extract(epoch FROM k.activity_created_at) * 1000000)::int8,
                   (extract(epoch FROM k.activity_expires_at) * 1000000)::int8,
                   k.created_at < now() - interval '24 hours'
            FROM public.idempotency_keys k JOIN author ON author.uuid = k.user_uuid
            WHERE k.key = $3
            """

        /// A key's record.
        struct Row {
            let message: String
            let ttlSeconds: Int64
            /// The activity the first request created.
            let activity: CreatedActivity
            /// Older than 24 hours: forgotten, as if never used.
            let isStale: Bool
        }

        let author: Author
        let key: String

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 3)
            bindings.append(author: author)
            bindings.append(key)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Row {
            let (message, ttlSeconds, uuid, displayName, handle, createdAt, expiresAt, isStale) =
                try row.decode((String, Int64, String, String, String, Int64, Int64, Bool).self)
            let activity = CreatedActivity(
                uuid: uuid, displayName: displayName, handle: handle, message: message,
                createdAt: Timestamp(microsecondsSinceEpoch: createdAt), expiresAt: Timestamp(microsecondsSinceEpoch: expiresAt)
            )
            return Row(message: message, ttlSeconds: ttlSeconds, activity: activity, isStale: isStale)
        }
    }

    /// Forgets one author's key (`$3`) once it is past 24 hours (the purge may not have reached it yet).
    struct ForgetStale: PostgresPreparedStatement {
        static let name = "cruddur_forget_stale_idempotency_key"
        static let sql = """
            WITH \(UserStatements.authorCTE)
            DELETE FROM public.idempotency_keys k USING author
            WHERE k.user_uuid = author.uuid AND k.key = $3 AND k.created_at < now() - interval '24 hours'
            """
        typealias Row = ()
        let author: Author
        let key: String

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 3)
            bindings.append(author: author)
            bindings.append(key)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Row {}
    }

    /// Deletes up to `limit` keys older than 24 hours; returns how many it deleted.
    struct PurgeStale: PostgresPreparedStatement {
        static let name = "cruddur_purge_stale_idempotency_keys"
        static let sql = """
            WITH doomed AS (
              SELECT user_uuid, key FROM public.idempotency_keys
              WHERE created_at < now() - interval '24 hours'
              ORDER BY created_at
              LIMIT $1
              FOR UPDATE SKIP LOCKED
            ), deleted AS (
              DELETE FROM public.idempotency_keys k USING doomed
              WHERE k.user_uuid = doomed.user_uuid AND k.key = doomed.key
              RETURNING 1
            )
            SELECT count(*)::int8 FROM deleted
            """
        typealias Row = Int64
        let limit: Int64

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 1)
            bindings.append(limit)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Int64.self) }
    }
}
