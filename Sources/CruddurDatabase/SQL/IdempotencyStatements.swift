import PostgresNIO

/// The SQL behind `Idempotency-Key` on posts. Keys are scoped to their author: the primary key is (author, key).
enum IdempotencyStatements {
    /// Claims the key and creates the activity in one statement, or does nothing when the author already used
    /// the key. A concurrent request with the same key waits on the key's unique index until the first commits.
    struct ClaimAndCreate: PostgresPreparedStatement {
        static let name = "cruddur_claim_key_and_create_activity"
        static let sql = """
            WITH author AS (
              SELECT uuid, display_name, handle FROM public.users WHERE handle = $1
            ), fresh AS (
              SELECT gen_random_uuid() AS uuid, now() AS created_at, now() + $3::int8 * interval '1 second' AS expires_at
            ), claimed AS (
              INSERT INTO public.idempotency_keys
                (user_uuid, key, message, ttl_seconds, activity_uuid, activity_created_at, activity_expires_at)
              SELECT author.uuid, $4, $2, $3, fresh.uuid, fresh.created_at, fresh.expires_at FROM author, fresh
              ON CONFLICT (user_uuid, key) DO NOTHING
              RETURNING activity_uuid
            ), inserted AS (
              INSERT INTO public.activities (uuid, user_uuid, message, created_at, expires_at)
              SELECT fresh.uuid, author.uuid, $2, fresh.created_at, fresh.expires_at FROM author, fresh, claimed
              RETURNING uuid, message, created_at, expires_at
            )
            SELECT \(ActivityStatements.createdColumns)
            FROM inserted, author
            """
        typealias Row = ActivityStatements.CreatedRow
        let handle: String
        let message: String
        let ttlSeconds: Int64
        let key: String

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 4)
            bindings.append(handle)
            bindings.append(message)
            bindings.append(ttlSeconds)
            bindings.append(key)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
    }

    /// What an author's earlier request with this key asked for and created, and whether the key is past 24 hours.
    struct Recorded: PostgresPreparedStatement {
        static let name = "cruddur_recorded_idempotency_key"
        static let sql = """
            SELECT k.message, k.ttl_seconds, k.activity_uuid::text, u.display_name, u.handle,
                   (extract(epoch FROM k.activity_created_at) * 1000000)::int8,
                   (extract(epoch FROM k.activity_expires_at) * 1000000)::int8,
                   k.created_at < now() - interval '24 hours'
            FROM public.idempotency_keys k JOIN public.users u ON u.uuid = k.user_uuid
            WHERE u.handle = $1 AND k.key = $2
            """
        typealias Row = (String, Int64, String, String, String, Int64, Int64, Bool)
        let handle: String
        let key: String

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 2)
            bindings.append(handle)
            bindings.append(key)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
    }

    /// Forgets one author's key once it is past 24 hours (the purge may not have reached it yet).
    struct ForgetStale: PostgresPreparedStatement {
        static let name = "cruddur_forget_stale_idempotency_key"
        static let sql = """
            DELETE FROM public.idempotency_keys k USING public.users u
            WHERE u.uuid = k.user_uuid AND u.handle = $1 AND k.key = $2 AND k.created_at < now() - interval '24 hours'
            """
        typealias Row = ()
        let handle: String
        let key: String

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 2)
            bindings.append(handle)
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
