import Logging

/// Notifications that what the home feed shows may have changed: migration 3 makes every write to its tables (from
/// any server, and the expiry purge) `NOTIFY` this channel. The feed cache follows them.
public struct FeedChanges: Sendable {
    /// The `LISTEN`/`NOTIFY` channel.
    public static let channel = "cruddur_feed"

    private let settings: ConnectionSettings
    private let logger: Logger

    public init(settings: ConnectionSettings, logger: Logger) {
        self.settings = settings.with(applicationName: "cruddur-api-listen")
        self.logger = logger
    }

    /// Listens on its own connection until the task is cancelled. `listening(true)` once subscribed, `changed()` for
    /// each notification, `listening(false)` when the connection is lost; then it reconnects after a second.
    public func follow(listening: @escaping @Sendable (Bool) -> Void, changed: @escaping @Sendable () -> Void) async {
        while !Task.isCancelled {
            do {
                try await Database.withConnection(settings, logger: logger, operation: "listening for feed changes") { connection in
                    try await connection.listen(on: Self.channel) { notifications in
                        listening(true)
                        for try await _ in notifications {
                            changed()
                        }
                    }
                }
            } catch  where !Task.isCancelled {
                logger.warning("Not listening for feed changes; the feed is served uncached", metadata: ["error": "\(error)"])
            } catch {}
            listening(false)
            try? await Task.sleep(for: .seconds(1))
        }
    }
}
