extension Migration {
    /// Every change to what the home feed shows sent `NOTIFY cruddur_feed` (once per statement), so each server's feed
    /// cache could drop its pages. Migration 5 removes it again: `NOTIFY` serializes every notifying commit in the
    /// cluster (see ``dropFeedChangeNotifications``).
    static let notifyFeedChanges = Migration(
        version: 3,
        name: "notify_feed_changes",
        up: [
            """
            CREATE OR REPLACE FUNCTION public.cruddur_notify_feed_change() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
              PERFORM pg_notify('cruddur_feed', '');
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
