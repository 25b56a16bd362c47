/// One versioned schema change with the statements that apply it and revert it.
///
/// Each side runs in one transaction; statements are constant SQL, never built from input.
public struct Migration: Sendable, Equatable {
    public let version: Int
    public let name: String
    public let up: [String]
    public let down: [String]

    public init(version: Int, name: String, up: [String], down: [String]) {
        self.version = version
        self.name = name
        self.up = up
        self.down = down
    }
}

extension Migration {
    /// Every migration of the schema, oldest first.
    public static let all: [Migration] = [
        .createUsersAndActivities, .createIdempotencyKeys, .notifyFeedChanges, .createPostAllowances, .dropFeedChangeNotifications,
    ]
}
