import CruddurDomain

/// The seed-compatible JSON of activities.
enum ActivityJSON {
    static func feed(_ activities: [FeedActivity]) -> String {
        var output = "["
        output.reserveCapacity(activities.count * 400)
        for (index, activity) in activities.enumerated() {
            if index > 0 { output.append(",") }
            JSONWriter.appendObject(
                [
                    ("uuid", .string(activity.uuid)),
                    ("display_name", .string(activity.displayName)),
                    ("handle", .string(activity.handle)),
                    ("message", .string(activity.message)),
                    ("replies_count", .integer(Int64(activity.repliesCount))),
                    ("reposts_count", .integer(Int64(activity.repostsCount))),
                    ("likes_count", .integer(Int64(activity.likesCount))),
                    ("reply_to_activity_uuid", .optionalString(activity.replyToActivityUUID)),
                    ("expires_at", .string(activity.expiresAt.iso8601)),
                    ("created_at", .string(activity.createdAt.iso8601)),
                ], to: &output)
        }
        output.append("]")
        return output
    }

    static func created(_ activity: CreatedActivity) -> String {
        JSONWriter.object([
            ("uuid", .string(activity.uuid)),
            ("display_name", .string(activity.displayName)),
            ("handle", .string(activity.handle)),
            ("message", .string(activity.message)),
            ("created_at", .string(activity.createdAt.iso8601)),
            ("expires_at", .string(activity.expiresAt.iso8601)),
        ])
    }
}
