import CruddurDomain
import Foundation
import NIOCore
import Testing

@testable import CruddurAPI

@Suite("The API's JSON, written as bytes: the seed's fields in order, escaping, explicit nulls")
struct ActivityJSONTests {
    static let awkward =
        "quote \" backslash \\ newline \n tab \t nul \u{0} bell \u{7} del \u{7F} line sep \u{2028} para \u{2029} é ✓ 🙂 </script> € … ‰ \u{2027}\u{202A} ends with a separator \u{2028}"

    static func activity(message: String, replyTo: String?) -> FeedActivity {
        FeedActivity(
            uuid: "0b5e5f29-6a5e-4d6f-9e2f-2f4e1c3b7a10", displayName: "Andrew \"Brown\"", handle: "andrewbrown", message: message,
            repliesCount: 3, repostsCount: 0, likesCount: Int32.max, replyToActivityUUID: replyTo,
            expiresAt: Timestamp(microsecondsSinceEpoch: 1_795_689_177_123_456), createdAt: Timestamp(microsecondsSinceEpoch: -1))
    }

    @Test("a feed page decodes to the same values, with the seed's keys in the seed's order")
    func feed() throws {
        let page = [Self.activity(message: Self.awkward, replyTo: nil), Self.activity(message: "plain", replyTo: "a1b2")]
        let buffer = ActivityJSON.feed(page)
        let text = String(buffer: buffer)
        let decoded = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]])
        #expect(decoded.count == 2)
        #expect(decoded[0]["message"] as? String == Self.awkward)
        #expect(decoded[0]["display_name"] as? String == "Andrew \"Brown\"")
        #expect(decoded[0]["reply_to_activity_uuid"] is NSNull)
        #expect(decoded[1]["reply_to_activity_uuid"] as? String == "a1b2")
        #expect((decoded[0]["likes_count"] as? NSNumber)?.int64Value == Int64(Int32.max))
        #expect(decoded[0]["expires_at"] as? String == "2026-11-26T10:32:57.123456Z")
        #expect(decoded[0]["created_at"] as? String == "1969-12-31T23:59:59.999999Z")
        let keys = [
            "uuid", "display_name", "handle", "message", "replies_count", "reposts_count", "likes_count", "reply_to_activity_uuid",
            "expires_at", "created_at",
        ]
        let positions = keys.map { text.range(of: "\"\($0)\":")?.lowerBound }
        #expect(positions.allSatisfy { $0 != nil } && positions.compactMap { $0 } == positions.compactMap { $0 }.sorted())
        // Control characters and the JavaScript line separators are escaped; the page stays one line of JSON.
        #expect(!text.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F || $0 == "\u{2028}" || $0 == "\u{2029}" })
        #expect(text.contains(#"\n"#) && text.contains(#"\u0000"#) && text.contains(#"\u2028"#))
        #expect(ActivityJSON.feed([]).readableBytes == 2)
        // Other three-byte characters that start with E2 pass unchanged, up to the last byte of the string.
        for tail in ["€", "…", "\u{2028}", "x\u{2029}", "\u{2027}"] {
            let buffer = ActivityJSON.feed([Self.activity(message: tail, replyTo: nil)])
            let decoded = try #require(try JSONSerialization.jsonObject(with: Data(String(buffer: buffer).utf8)) as? [[String: Any]])
            #expect(decoded.first?["message"] as? String == tail)
        }
    }

    @Test("a created activity: the post's answer")
    func created() throws {
        let created = CreatedActivity(
            uuid: "u-1", displayName: "D", handle: "h", message: Self.awkward, createdAt: Timestamp(microsecondsSinceEpoch: 0),
            expiresAt: Timestamp(microsecondsSinceEpoch: 86_400_000_000))
        let text = String(buffer: ActivityJSON.created(created))
        let decoded = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(decoded["message"] as? String == Self.awkward)
        #expect(decoded["created_at"] as? String == "1970-01-01T00:00:00.000000Z")
        #expect(decoded["expires_at"] as? String == "1970-01-02T00:00:00.000000Z")
        #expect(text.hasPrefix(#"{"uuid":"u-1","display_name":"D","handle":"h","message":"#))
    }
}
