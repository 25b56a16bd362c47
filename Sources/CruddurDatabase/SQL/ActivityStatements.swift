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

    /// A ``feedColumns`` row.
    static func feedActivity(_ row: PostgresRow) throws -> FeedActivity {
        let (uuid, displayName, handle, message, replies, reposts, likes, replyTo, expiresAt, createdAt) =
            try row.decode((String, String, String, String, Int32, Int32, Int32, String?, Int64, Int64).self)
        return FeedActivity(
            uuid: uuid, displayName: displayName, handle: handle, message: message,
            repliesCount: replies, repostsCount: reposts, likesCount: likes, replyToActivityUUID: replyTo,
            expiresAt: Timestamp(microsecondsSinceEpoch: expiresAt), createdAt: Timestamp(microsecondsSinceEpoch: createdAt)
        )
    }

    /// What an insert of an activity returns, from its `inserted` and `author` CTEs (times in µs since the epoch).
    static let createdColumns = """
        inserted.uuid::text, author.display_name, author.handle, inserted.message,
        (extract(epoch FROM inserted.created_at) * 1000000)::int8,
        (extract(epoch FROM inserted.expires_at) * 1000000)::int8
        """

    /// A ``createdColumns`` row.
    static func createdActivity(_ row: PostgresRow) throws -> CreatedActivity {
        let (uuid, displayName, handle, message, createdAt, expiresAt) = try row.decode((String, String, String, String, Int64, Int64).self)
        return CreatedActivity(
            uuid: uuid, displayName: displayName, handle: handle, message: message,
            createdAt: Timestamp(microsecondsSinceEpoch: createdAt), expiresAt: Timestamp(microsecondsSinceEpoch: expiresAt)
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
        typealias Row = FeedActivity
        let limit: Int64

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 1)
            bindings.append(limit)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Row { try ActivityStatements.feedActivity(row) }
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
        typealias Row = FeedActivity
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

        func decodeRow(_ row: PostgresRow) throws -> Row { try ActivityStatements.feedActivity(row) }
    }

    /// The one statement that inserts an activity (the seed data aside): for an author given by handle or Cognito
    /// sub (``UserStatements/authorCTE``), with or without an `Idempotency-Key` (`$5`). With a key it claims the key
    /// and inserts in one statement, or does nothing when the author already used the key: a concurrent request
    /// with the same key waits on the key's unique index until the first commits. No row: the author does not
    /// exist, or the key was taken.
    struct CreateActivity: PostgresPreparedStatement {
        static let name = "cruddur_create_activity"
        static let sql = """
            WITH \(UserStatements.authorCTE), fresh AS (
              SELECT gen_random_uuid() AS uuid, now() AS created_at, now() + $4::int8 * interval '1 second' AS expires_at
            ), claimed AS (
              INSERT INTO public.idempotency_keys
                (user_uuid, key, message, ttl_seconds, activity_uuid, activity_created_at, activity_expires_at)
              SELECT author.uuid, $5, $3, $4, fresh.uuid, fresh.created_at, fresh.expires_at FROM author, fresh
              WHERE $5::text IS NOT NULL
              ON CONFLICT (user_uuid, key) DO NOTHING
              RETURNING activity_uuid
            ), inserted AS (
              INSERT INTO public.activities (uuid, user_uuid, message, created_at, expires_at)
              SELECT fresh.uuid, author.uuid, $3, fresh.created_at, fresh.expires_at FROM author, fresh
              WHERE $5::text IS NULL OR EXISTS (SELECT 1 FROM claimed)
              RETURNING uuid, message, created_at, expires_at
            )
            SELECT \(createdColumns)
            FROM inserted, author
            """
        typealias Row = CreatedActivity
        let activity: NewActivity
        let idempotencyKey: String?

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 5)
            bindings.append(author: activity.author)
            bindings.append(activity.message)
            bindings.append(Int64(activity.ttl.seconds))
            if let idempotencyKey { bindings.append(idempotencyKey) } else { bindings.appendNull() }
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Row { try ActivityStatements.createdActivity(row) }
    }

    /// The keyset position (µs since the epoch, uuid) of the live activity after `offset` others in feed order: an
    /// `OFFSET` scan, for tools (`cruddur db feed-cursor`), never for requests. The offset is bound, not spliced.
    static func feedPosition(offset: Int) -> PostgresQuery {
        """
        SELECT (extract(epoch FROM created_at) * 1000000)::int8, uuid::text FROM public.activities
        WHERE expires_at > now() ORDER BY created_at DESC, uuid DESC OFFSET \(offset) LIMIT 1
        """
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
