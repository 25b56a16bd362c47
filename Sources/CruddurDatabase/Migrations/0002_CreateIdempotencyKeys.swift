extension Migration {
    /// `Idempotency-Key`s of posts: one row per author and key, kept 24 hours, holding what the first request
    /// created so that a retry gets the same answer and writes nothing.
    static let createIdempotencyKeys = Migration(
        version: 2,
        name: "create_idempotency_keys",
        up: [
            """
            CREATE TABLE public.idempotency_keys (
              user_uuid uuid NOT NULL REFERENCES public.users (uuid) ON DELETE CASCADE,
              key text NOT NULL,
              message text NOT NULL,
              ttl_seconds bigint NOT NULL,
              activity_uuid uuid NOT NULL,
              activity_created_at timestamptz NOT NULL,
              activity_expires_at timestamptz NOT NULL,
              created_at timestamptz NOT NULL DEFAULT now(),
              PRIMARY KEY (user_uuid, key)
            )
            """,
            "CREATE INDEX idempotency_keys_created_at_idx ON public.idempotency_keys (created_at)",
        ],
        down: [
            "DROP TABLE public.idempotency_keys"
        ]
    )
}
