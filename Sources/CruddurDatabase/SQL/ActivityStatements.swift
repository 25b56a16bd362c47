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
        var cells = RowCells(row, statement: "feed")
        return FeedActivity(
            uuid: try cells.next(String.self), displayName: try cells.next(String.self), handle: try cells.next(String.self),
            message: try cells.next(String.self), repliesCount: try cells.next(Int32.self), repostsCount: try cells.next(Int32.self),
            likesCount: try cells.next(Int32.self), replyToActivityUUID: try cells.next(String?.self),
            expiresAt: Timestamp(microsecondsSinceEpoch: try cells.next(Int64.self)),
            createdAt: Timestamp(microsecondsSinceEpoch: try cells.next(Int64.self))
        )
    }

    /// What an insert of an activity returns, from its `inserted` and `author` CTEs (times in µs since the epoch).
    static let createdColumns = """
        inserted.uuid::text, author.display_name, author.handle, inserted.message,
        (extract(epoch FROM inserted.created_at) * 1000000)::int8,
        (extract(epoch FROM inserted.expires_at) * 1000000)::int8
        """

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
    /// sub (``UserStatements/authorCTE``), with or without an `Idempotency-Key` (`$5`), within the posting rate limit
    /// (`$6` posts per `$7` seconds; `$6` NULL: no limit).
    ///
    /// With a key it claims the key and inserts in one statement, or does nothing when the author already used the
    /// key: a concurrent request with the same key waits on the key's unique index until the first commits. The
    /// rate limit is one upsert of the author's counter row, whose lock makes it exact under concurrent posts by one
    /// author; a retry of a key already used is not counted. Rows: the created activity, or one row with only
    /// `retry_after` (seconds) when the limit refuses (also when the counter row was made by a transaction this
    /// statement's snapshot does not see: then a whole window); none when the author does not exist or the key was taken.
    struct CreateActivity: PostgresPreparedStatement {
        static let name = "cruddur_create_activity"
        static let sql = """
            WITH \(UserStatements.authorCTE), fresh AS (
              SELECT gen_random_uuid() AS uuid, now() AS created_at, now() + $4::int8 * interval '1 second' AS expires_at
            ), retried AS (
              SELECT EXISTS (
                SELECT 1 FROM public.idempotency_keys k, author WHERE k.user_uuid = author.uuid AND k.key = $5::text
              ) AS yes
            ), allowance AS (
              INSERT INTO public.post_allowances AS c (user_uuid, window_started_at, posts)
              SELECT author.uuid, now(), 1 FROM author
              WHERE $6::int4 IS NOT NULL AND NOT (SELECT yes FROM retried)
              ON CONFLICT (user_uuid) DO UPDATE SET
                window_started_at = CASE WHEN c.window_started_at + $7::int8 * interval '1 second' <= now()
                  THEN now() ELSE c.window_started_at END,
                posts = CASE WHEN c.window_started_at + $7::int8 * interval '1 second' <= now() THEN 1 ELSE c.posts + 1 END
              WHERE c.window_started_at + $7::int8 * interval '1 second' <= now() OR c.posts < $6::int4
              RETURNING 1
            ), permitted AS (
              SELECT $6::int4 IS NULL OR (SELECT yes FROM retried) OR EXISTS (SELECT 1 FROM allowance) AS yes
            ), claimed AS (
              INSERT INTO public.idempotency_keys
                (user_uuid, key, message, ttl_seconds, activity_uuid, activity_created_at, activity_expires_at)
              SELECT author.uuid, $5, $3, $4, fresh.uuid, fresh.created_at, fresh.expires_at FROM author, fresh
              WHERE $5::text IS NOT NULL AND (SELECT yes FROM permitted)
              ON CONFLICT (user_uuid, key) DO NOTHING
              RETURNING activity_uuid
            ), inserted AS (
              INSERT INTO public.activities (uuid, user_uuid, message, created_at, expires_at)
              SELECT fresh.uuid, author.uuid, $3, fresh.created_at, fresh.expires_at FROM author, fresh
              WHERE (SELECT yes FROM permitted) AND ($5::text IS NULL OR EXISTS (SELECT 1 FROM claimed))
              RETURNING uuid, message, created_at, expires_at
            )
            SELECT \(createdColumns), NULL::int8
            FROM inserted, author
            UNION ALL
            SELECT NULL, NULL, NULL, NULL, NULL, NULL, greatest(1, ceil(extract(epoch FROM
                coalesce(c.window_started_at, now()) + $7::int8 * interval '1 second' - now())))::int8
            FROM author LEFT JOIN public.post_allowances c ON c.user_uuid = author.uuid
            WHERE NOT (SELECT yes FROM permitted)
            """
        typealias Row = Outcome
        let activity: NewActivity
        let idempotencyKey: String?
        let rateLimit: PostRateLimit?

        /// A row of this statement.
        enum Outcome {
            case created(CreatedActivity)
            case rateLimited(retryAfterSeconds: Int64)
        }

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 7)
            bindings.append(author: activity.author)
            bindings.append(activity.message)
            bindings.append(Int64(activity.ttl.seconds))
            if let idempotencyKey { bindings.append(idempotencyKey) } else { bindings.appendNull() }
            bindings.append(rateLimit: rateLimit)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Row {
            var cells = RowCells(row, statement: Self.name)
            return try Self.outcome(&cells)
        }

        /// The outcome in a row's next seven cells (``createdColumns`` and `retry_after`).
        static func outcome(_ cells: inout RowCells) throws -> Outcome {
            let (uuid, displayName, handle, message) = (
                try cells.next(String?.self), try cells.next(String?.self), try cells.next(String?.self), try cells.next(String?.self)
            )
            let (created, expires, retryAfter) = (try cells.next(Int64?.self), try cells.next(Int64?.self), try cells.next(Int64?.self))
            if let retryAfter { return .rateLimited(retryAfterSeconds: retryAfter) }
            guard let uuid, let displayName, let handle, let message, let createdAt = created, let expiresAt = expires
            else { throw MalformedRow(statement: Self.name) }
            return .created(
                CreatedActivity(
                    uuid: uuid, displayName: displayName, handle: handle, message: message,
                    createdAt: Timestamp(microsecondsSinceEpoch: createdAt), expiresAt: Timestamp(microsecondsSinceEpoch: expiresAt)
                ))
        }
    }

    /// ``CreateActivity`` for a group of posts without an `Idempotency-Key`, by different authors, under one rate
    /// limit: the same rules per post (author by handle or Cognito sub, the counter row's upsert and its refusal) in
    /// one statement. Posts are `$1`–`$4` as arrays of equal length (author key, whether it is a Cognito sub,
    /// message, TTL in seconds); `$5`/`$6` are the rate limit. The counter rows are taken in the order of the
    /// authors' uuids, so two groups never wait for each other in a cycle. Two posts by one user in a group fail the
    /// statement (a counter row cannot be updated twice in one statement): the caller keeps authors distinct. (Without
    /// a rate limit they are two rows; each activity's uuid is drawn per position, so each post gets its own back.)
    ///
    /// Rows: per post that has an author, its 1-based position and what ``CreateActivity`` would return for it.
    struct CreateActivities: PostgresPreparedStatement {
        static let name = "cruddur_create_activities"
        static let sql = """
            WITH post AS (
              SELECT p.position, p.author_key, p.by_sub, p.message, p.ttl
              FROM unnest($1::text[], $2::bool[], $3::text[], $4::int8[]) WITH ORDINALITY
                AS p(author_key, by_sub, message, ttl, position)
            ), author AS (
              SELECT post.position, u.uuid, u.display_name, u.handle
              FROM post JOIN public.users u ON u.handle = post.author_key WHERE NOT post.by_sub
              UNION ALL
              SELECT post.position, u.uuid, u.display_name, u.handle
              FROM post JOIN public.users u ON u.cognito_user_id = post.author_key
              WHERE post.by_sub AND u.cognito_user_id <> ''
            ), allowance AS (
              INSERT INTO public.post_allowances AS c (user_uuid, window_started_at, posts)
              SELECT author.uuid, now(), 1 FROM author WHERE $5::int4 IS NOT NULL ORDER BY author.uuid
              ON CONFLICT (user_uuid) DO UPDATE SET
                window_started_at = CASE WHEN c.window_started_at + $6::int8 * interval '1 second' <= now()
                  THEN now() ELSE c.window_started_at END,
                posts = CASE WHEN c.window_started_at + $6::int8 * interval '1 second' <= now() THEN 1 ELSE c.posts + 1 END
              WHERE c.window_started_at + $6::int8 * interval '1 second' <= now() OR c.posts < $5::int4
              RETURNING c.user_uuid
            ), fresh AS (
              SELECT author.position, gen_random_uuid() AS uuid, author.uuid AS user_uuid, post.message, post.ttl
              FROM author JOIN post USING (position)
              WHERE $5::int4 IS NULL OR author.uuid IN (SELECT user_uuid FROM allowance)
            ), inserted AS (
              INSERT INTO public.activities (uuid, user_uuid, message, created_at, expires_at)
              SELECT uuid, user_uuid, message, now(), now() + ttl * interval '1 second' FROM fresh
              RETURNING uuid, message, created_at, expires_at
            )
            SELECT fresh.position, \(createdColumns), NULL::int8
            FROM inserted JOIN fresh ON fresh.uuid = inserted.uuid JOIN author ON author.position = fresh.position
            UNION ALL
            SELECT author.position, NULL, NULL, NULL, NULL, NULL, NULL, greatest(1, ceil(extract(epoch FROM
                coalesce(c.window_started_at, now()) + $6::int8 * interval '1 second' - now())))::int8
            FROM author LEFT JOIN public.post_allowances c ON c.user_uuid = author.uuid
            WHERE $5::int4 IS NOT NULL AND author.uuid NOT IN (SELECT user_uuid FROM allowance)
            """
        typealias Row = (position: Int, outcome: CreateActivity.Outcome)
        let activities: [NewActivity]
        let rateLimit: PostRateLimit?

        func makeBindings() throws -> PostgresBindings {
            var keys: [String] = []
            var bySub: [Bool] = []
            var messages: [String] = []
            var ttls: [Int64] = []
            for activity in activities {
                switch activity.author {
                case .handle(let handle):
                    keys.append(handle)
                    bySub.append(false)
                case .cognitoSub(let sub):
                    keys.append(sub)
                    bySub.append(true)
                }
                messages.append(activity.message)
                ttls.append(Int64(activity.ttl.seconds))
            }
            var bindings = PostgresBindings(capacity: 6)
            bindings.append(keys)
            bindings.append(bySub)
            bindings.append(messages)
            bindings.append(ttls)
            bindings.append(rateLimit: rateLimit)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Row {
            var cells = RowCells(row, statement: Self.name)
            let position = try cells.next(Int64.self)
            return (Int(position), try CreateActivity.outcome(&cells))
        }
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

/// A row that a statement cannot have produced: a bug, reported as one.
struct MalformedRow: Error, CustomStringConvertible {
    let statement: String

    var description: String { "\(statement) returned a row with missing columns" }
}

extension PostgresBindings {
    /// Binds the rate limit's posts per window (NULL: no limit) and its window in seconds.
    mutating func append(rateLimit: PostRateLimit?) {
        if let rateLimit {
            append(Int32(rateLimit.posts))
            append(Int64(rateLimit.windowSeconds))
        } else {
            appendNull()
            append(Int64(0))
        }
    }
}
