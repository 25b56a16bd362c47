import CruddurDomain
import PostgresNIO

/// The SQL of the activity hot paths, as named prepared statements with bound parameters only.
enum ActivityStatements {
    /// Microseconds since the epoch, exact (`extract` returns `numeric`).
    static let feedColumns = """
        a.uuid::text, u.display_name, u.handle, a.message, a.replies_count, a.reposts_count, a.likes_count,
        a.reply_to_activity_uuid::text,
        (extract(epoch FROM a.expires_at) * 1000000)::int8,
        (extract(epoch FROM a.created_at) * 1000000)::int8
        """

    typealias FeedRow = (String, String, String, String, Int32, Int32, Int32, String?, Int64, Int64)

    static func feedActivity(_ row: FeedRow) -> FeedActivity {
        FeedActivity(
            uuid: row.0, displayName: row.1, handle: row.2, message: row.3,
            repliesCount: row.4, repostsCount: row.5, likesCount: row.6, replyToActivityUUID: row.7,
            expiresAt: Timestamp(microsecondsSinceEpoch: row.8), createdAt: Timestamp(microsecondsSinceEpoch: row.9)
        )
    }

    /// What an insert of an activity returns, from its `inserted` and `author` CTEs (times in µs since the epoch).
    static let createdColumns = """
        inserted.uuid::text, author.display_name, author.handle, inserted.message,
        (extract(epoch FROM inserted.created_at) * 1000000)::int8,
        (extract(epoch FROM inserted.expires_at) * 1000000)::int8
        """

    typealias CreatedRow = (String, String, String, String, Int64, Int64)

    /// A created activity from a ``createdColumns`` row.
    static func createdActivity(_ row: CreatedRow) -> CreatedActivity {
        CreatedActivity(
            uuid: row.0, displayName: row.1, handle: row.2, message: row.3,
            createdAt: Timestamp(microsecondsSinceEpoch: row.4), expiresAt: Timestamp(microsecondsSinceEpoch: row.5)
        )
    }

    /// The newest live activities: a short scan of `activities_feed_idx` at any table size.
    struct HomeFeedFirstPage: PostgresPreparedStatement {
        static let name = "cruddur_home_feed_first_page"
        static let sql = """
            SELECT \(feedColumns)
            FROM public.activities a
            JOIN public.users u ON u.uuid = a.user_uuid
            WHERE a.expires_at > now()
            ORDER BY a.created_at DESC, a.uuid DESC
            LIMIT $1
            """
        typealias Row = FeedRow
        let limit: Int64

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 1)
            bindings.append(limit)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
    }

    /// The live activities strictly older than a keyset cursor.
    struct HomeFeedAfterCursor: PostgresPreparedStatement {
        static let name = "cruddur_home_feed_after_cursor"
        static let sql = """
            SELECT \(feedColumns)
            FROM public.activities a
            JOIN public.users u ON u.uuid = a.user_uuid
            WHERE a.expires_at > now()
              AND (a.created_at, a.uuid) < ($1::text::timestamptz, $2::text::uuid)
            ORDER BY a.created_at DESC, a.uuid DESC
            LIMIT $3
            """
        typealias Row = FeedRow
        let createdAt: String
        let uuid: String
        let limit: Int64

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 3)
            bindings.append(createdAt)
            bindings.append(uuid)
            bindings.append(limit)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
    }

    /// Inserts an activity for the user with a handle; no row when the handle is unknown.
    struct CreateByHandle: PostgresPreparedStatement {
        static let name = "cruddur_create_activity_by_handle"
        static let sql = """
            WITH author AS (
              SELECT uuid, display_name, handle FROM public.users WHERE handle = $1
            ), inserted AS (
              INSERT INTO public.activities (user_uuid, message, expires_at)
              SELECT author.uuid, $2, now() + $3::int8 * interval '1 second' FROM author
              RETURNING uuid, message, created_at, expires_at
            )
            SELECT \(createdColumns)
            FROM inserted, author
            """
        typealias Row = CreatedRow
        let handle: String
        let message: String
        let ttlSeconds: Int64

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 3)
            bindings.append(handle)
            bindings.append(message)
            bindings.append(ttlSeconds)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
    }

    /// Deletes up to `limit` expired activities; returns how many it deleted.
    struct PurgeExpired: PostgresPreparedStatement {
        static let name = "cruddur_purge_expired_activities"
        static let sql = """
            WITH doomed AS (
              SELECT uuid FROM public.activities
              WHERE expires_at <= now()
              ORDER BY expires_at
              LIMIT $1
              FOR UPDATE SKIP LOCKED
            ), deleted AS (
              DELETE FROM public.activities a USING doomed WHERE a.uuid = doomed.uuid RETURNING 1
            )
            SELECT count(*) FROM deleted
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

/// The SQL about users.
enum UserStatements {
    /// Whether a handle belongs to a user.
    struct HandleExists: PostgresPreparedStatement {
        static let name = "cruddur_user_handle_exists"
        static let sql = "SELECT EXISTS (SELECT 1 FROM public.users WHERE handle = $1)"
        typealias Row = Bool
        let handle: String

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 1)
            bindings.append(handle)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Bool.self) }
    }
}
