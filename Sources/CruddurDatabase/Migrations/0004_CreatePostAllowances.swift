extension Migration {
    /// The posting rate limit's counters: one row per author holding the current window's start and its posts. A
    /// counter, not a count of rows, because expired activities are purged (counting them would undercount).
    static let createPostAllowances = Migration(
        version: 4,
        name: "create_post_allowances",
        up: [
            """
            CREATE TABLE public.post_allowances (
              user_uuid uuid PRIMARY KEY REFERENCES public.users (uuid) ON DELETE CASCADE,
              window_started_at timestamptz NOT NULL,
              posts integer NOT NULL CHECK (posts > 0)
            )
            """
        ],
        down: [
            "DROP TABLE public.post_allowances"
        ]
    )
}
