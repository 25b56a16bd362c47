extension Migration {
    /// Removes migration 3's `NOTIFY` triggers. `NOTIFY` takes a cluster-wide lock at commit and holds it through the
    /// WAL flush, so every posting transaction committed one at a time (390–550 posts per second against 4,600–5,300
    /// without them, measured with pgbench on the server's own statement). The feed cache now bounds its staleness
    /// instead (`FEED_CACHE_MAX_AGE_MS`, see `FeedCache`), which costs writes nothing.
    static let dropFeedChangeNotifications = Migration(
        version: 5,
        name: "drop_feed_change_notifications",
        up: [
            "DROP TRIGGER users_notify_feed_change ON public.users",
            "DROP TRIGGER activities_notify_feed_change ON public.activities",
            "DROP FUNCTION public.cruddur_notify_feed_change()",
        ],
        down: Migration.notifyFeedChanges.up
    )
}
