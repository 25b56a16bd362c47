extension Migration {
    /// Every change to what the home feed shows sends `NOTIFY cruddur_feed` (``FeedChanges/channel``, once per statement), so each
    /// server's feed cache can drop its pages: several `cruddur serve` processes on one database stay consistent.
    static let notifyFeedChanges = Migration(
        version: 3,
        name: "notify_feed_changes",
        up: [
            """
            CREATE OR REPLACE FUNCTION public.cruddur_notify_feed_change() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
              PERFORM pg_notify('\(FeedChanges.channel)', '');
              RETURN NULL;
            END
            $$
            """,
            """
            CREATE TRIGGER activities_notify_feed_change
              AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON public.activities
              FOR EACH STATEMENT EXECUTE FUNCTION public.cruddur_notify_feed_change()
            """,
            """
            CREATE TRIGGER users_notify_feed_change
              AFTER UPDATE OR DELETE OR TRUNCATE ON public.users
              FOR EACH STATEMENT EXECUTE FUNCTION public.cruddur_notify_feed_change()
            """,
        ],
        down: [
            "DROP TRIGGER users_notify_feed_change ON public.users",
            "DROP TRIGGER activities_notify_feed_change ON public.activities",
            "DROP FUNCTION public.cruddur_notify_feed_change()",
        ]
    )
}
