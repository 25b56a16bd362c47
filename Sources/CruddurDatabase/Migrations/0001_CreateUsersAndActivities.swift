extension Migration {
    /// The seed's two tables, corrected: `timestamptz`, unique handles and Cognito ids, a foreign key,
    /// `reply_to_activity_uuid uuid`, non-null counts, and the indexes the feed and the purge need.
    static let createUsersAndActivities = Migration(
        version: 1,
        name: "create_users_and_activities",
        up: [
            """
            CREATE TABLE public.users (
              uuid uuid PRIMARY KEY DEFAULT gen_random_uuid(),
              display_name text NOT NULL,
              handle text NOT NULL CONSTRAINT users_handle_key UNIQUE,
              email text NOT NULL,
              cognito_user_id text,
              created_at timestamptz NOT NULL DEFAULT now()
            )
            """,
            """
            CREATE UNIQUE INDEX users_cognito_user_id_key ON public.users (cognito_user_id)
              WHERE cognito_user_id IS NOT NULL AND cognito_user_id <> ''
            """,
            """
            CREATE TABLE public.activities (
              uuid uuid PRIMARY KEY DEFAULT gen_random_uuid(),
              user_uuid uuid NOT NULL REFERENCES public.users (uuid) ON DELETE CASCADE,
              message text NOT NULL,
              replies_count integer NOT NULL DEFAULT 0,
              reposts_count integer NOT NULL DEFAULT 0,
              likes_count integer NOT NULL DEFAULT 0,
              reply_to_activity_uuid uuid REFERENCES public.activities (uuid) ON DELETE SET NULL,
              expires_at timestamptz NOT NULL,
              created_at timestamptz NOT NULL DEFAULT now()
            )
            """,
            "CREATE INDEX activities_feed_idx ON public.activities (created_at DESC, uuid DESC)",
            "CREATE INDEX activities_expires_at_idx ON public.activities (expires_at)",
            "CREATE INDEX activities_user_uuid_idx ON public.activities (user_uuid)",
            """
            CREATE INDEX activities_reply_to_idx ON public.activities (reply_to_activity_uuid)
              WHERE reply_to_activity_uuid IS NOT NULL
            """,
        ],
        down: [
            "DROP TABLE public.activities",
            "DROP TABLE public.users",
        ]
    )
}
