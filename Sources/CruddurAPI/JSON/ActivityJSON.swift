import CruddurDomain
import NIOCore

/// The seed-compatible JSON of activities.
enum ActivityJSON {
    static func feed(_ activities: [FeedActivity]) -> ByteBuffer {
        var json = JSONWriter(capacity: 2 + activities.reduce(0) { $0 + 300 + $1.message.utf8.count })
        json.raw("[")
        for (index, activity) in activities.enumerated() {
            if index > 0 { json.raw(",") }
            json.raw(#"{"uuid":"#)
            json.string(activity.uuid)
            json.raw(#","display_name":"#)
            json.string(activity.displayName)
            json.raw(#","handle":"#)
            json.string(activity.handle)
            json.raw(#","message":"#)
            json.string(activity.message)
            json.raw(#","replies_count":"#)
            json.integer(Int64(activity.repliesCount))
            json.raw(#","reposts_count":"#)
            json.integer(Int64(activity.repostsCount))
            json.raw(#","likes_count":"#)
            json.integer(Int64(activity.likesCount))
            json.raw(#","reply_to_activity_uuid":"#)
            json.optionalString(activity.replyToActivityUUID)
            json.raw(#","expires_at":"#)
            json.timestamp(activity.expiresAt)
            json.raw(#","created_at":"#)
            json.timestamp(activity.createdAt)
            json.raw("}")
        }
        json.raw("]")
        return json.buffer
    }

    static func created(_ activity: CreatedActivity) -> ByteBuffer {
        var json = JSONWriter(capacity: 300 + activity.message.utf8.count)
        json.raw(#"{"uuid":"#)
        json.string(activity.uuid)
        json.raw(#","display_name":"#)
        json.string(activity.displayName)
        json.raw(#","handle":"#)
        json.string(activity.handle)
        json.raw(#","message":"#)
        json.string(activity.message)
        json.raw(#","created_at":"#)
        json.timestamp(activity.createdAt)
        json.raw(#","expires_at":"#)
        json.timestamp(activity.expiresAt)
        json.raw("}")
        return json.buffer
    }
}
