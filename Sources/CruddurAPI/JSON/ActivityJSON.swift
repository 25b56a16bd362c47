import CruddurDomain
import NIOCore

/// The seed-compatible JSON of activities.
enum ActivityJSON {
    static func feed(_ activities: [FeedActivity]) -> ByteBuffer {
        var json = JSONWriter(capacity: 2 + activities.reduce(0) { $0 + 300 + $1.message.utf8.count })
        json.raw("[")
        for (index, activity) in activities.enumerated() {
            if index > 0 { json.raw(",") }
            appendOpening(
                uuid: activity.uuid, displayName: activity.displayName, handle: activity.handle, message: activity.message, to: &json)
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
        appendOpening(uuid: activity.uuid, displayName: activity.displayName, handle: activity.handle, message: activity.message, to: &json)
        json.raw(#","created_at":"#)
        json.timestamp(activity.createdAt)
        json.raw(#","expires_at":"#)
        json.timestamp(activity.expiresAt)
        json.raw("}")
        return json.buffer
    }

    /// The fields both shapes open with, in the seed's order.
    private static func appendOpening(uuid: String, displayName: String, handle: String, message: String, to json: inout JSONWriter) {
        json.raw(#"{"uuid":"#)
        json.string(uuid)
        json.raw(#","display_name":"#)
        json.string(displayName)
        json.raw(#","handle":"#)
        json.string(handle)
        json.raw(#","message":"#)
        json.string(message)
    }
}
