import CruddurDomain
import Glibc
import Testing

@Suite("Domain: validation, TTLs, timestamps, feed requests")
struct DomainTests {
    @Test("every TTL the seed offers, with its length")
    func ttls() {
        let expected: [String: Int] = [
            "30-days": 2_592_000, "7-days": 604_800, "3-days": 259_200, "1-day": 86_400,
            "12-hours": 43_200, "3-hours": 10_800, "1-hour": 3_600,
        ]
        #expect(TimeToLive.allCases.count == 7)
        for ttl in TimeToLive.allCases {
            #expect(expected[ttl.rawValue] == ttl.seconds)
        }
    }

    @Test("all applicable codes at once, in the seed's order")
    func allCodes() {
        let result = NewActivity.validate(ActivityDraft(userHandle: nil, message: nil, ttl: nil))
        #expect(result == .failure(ValidationFailure(errors: [.messageBlank, .userHandleBlank, .ttlBlank])))
        let spaces = NewActivity.validate(ActivityDraft(userHandle: "  ", message: " \n\t", ttl: "2-days"))
        #expect(spaces == .failure(ValidationFailure(errors: [.messageBlank, .userHandleBlank, .ttlBlank])))
    }

    @Test("280 code points pass, 281 fail, counted as Python counts (not UTF-16, not graphemes)")
    func messageLength() throws {
        let family = "👨‍👩‍👧" // 5 code points, 1 grapheme, 8 UTF-16 units
        let exactly280 = String(repeating: family, count: 56)
        #expect(exactly280.unicodeScalars.count == 280)
        #expect(try NewActivity.validate(ActivityDraft(userHandle: "a", message: exactly280, ttl: "1-hour")).get().message == exactly280)
        let over = exactly280 + "x"
        #expect(
            NewActivity.validate(ActivityDraft(userHandle: "a", message: over, ttl: "1-hour"))
                == .failure(ValidationFailure(errors: [.messageExceedMaxChars], author: .handle("a"))))
    }

    @Test("with a Cognito subject the author is that user and the body's user_handle is not required")
    func cognitoAuthor() throws {
        let valid = try NewActivity.validate(ActivityDraft(userHandle: nil, message: "hi", ttl: "1-day"), cognitoSub: "sub-1").get()
        #expect(valid.author == .cognitoSub("sub-1"))
        #expect(
            NewActivity.validate(ActivityDraft(userHandle: "ignored", message: "", ttl: "1-day"), cognitoSub: "sub-1")
                == .failure(ValidationFailure(errors: [.messageBlank], author: .cognitoSub("sub-1"))))
    }

    @Test("ISO-8601 with microseconds, across dates before and after the epoch")
    func timestamps() {
        #expect(Timestamp(microsecondsSinceEpoch: 0).iso8601 == "1970-01-01T00:00:00.000000Z")
        #expect(Timestamp(microsecondsSinceEpoch: 1_795_689_177_123_456).iso8601 == "2026-11-26T10:32:57.123456Z")
        #expect(Timestamp(microsecondsSinceEpoch: 951_782_400_000_001).iso8601 == "2000-02-29T00:00:00.000001Z")
        #expect(Timestamp(microsecondsSinceEpoch: -1).iso8601 == "1969-12-31T23:59:59.999999Z")
    }

    @Test("the ISO-8601 bytes the JSON writer appends are the string's, in and out of the four-digit years")
    func timestampBytes() {
        var generator = SystemRandomNumberGenerator()
        // Years 0 to 10000 (the last just past four digits), against the C library's calendar.
        let edges: [Int64] = [0, -1, 1, 253_402_300_799_999_999, 253_402_300_800_000_000, -62_167_219_200_000_000]
        let random = (0..<2_000).map { _ in Int64.random(in: -62_167_219_200_000_000...253_402_300_800_000_000, using: &generator) }
        for micros in edges + random {
            let instant = Timestamp(microsecondsSinceEpoch: micros)
            var bytes: [UInt8] = [UInt8(ascii: "x")]
            instant.appendISO8601(to: &bytes)
            #expect(String(decoding: bytes.dropFirst(), as: UTF8.self) == Self.libcISO8601(micros), "\(micros)")
            #expect(instant.iso8601 == Self.libcISO8601(micros), "\(micros)")
        }
        #expect(Timestamp(microsecondsSinceEpoch: 253_402_300_799_999_999).iso8601 == "9999-12-31T23:59:59.999999Z")
        #expect(Timestamp(microsecondsSinceEpoch: -62_167_219_200_000_001).iso8601 == "00-1-12-31T23:59:59.999999Z")
    }

    /// The same instant through `gmtime_r`, independently of ``Timestamp``'s own calendar arithmetic.
    static func libcISO8601(_ micros: Int64) -> String {
        var seconds = time_t(micros >= 0 ? micros / 1_000_000 : (micros - 999_999) / 1_000_000)
        let fraction = micros - Int64(seconds) * 1_000_000
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func digits(_ value: Int64, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(digits(Int64(parts.tm_year) + 1900, 4))-\(digits(Int64(parts.tm_mon) + 1, 2))-\(digits(Int64(parts.tm_mday), 2))T"
            + "\(digits(Int64(parts.tm_hour), 2)):\(digits(Int64(parts.tm_min), 2)):\(digits(Int64(parts.tm_sec), 2)).\(digits(fraction, 6))Z"
    }

    @Test("limit: default, clamp, and refusals", arguments: ["0", "-1", "abc", "1.5", "", " 5", "1e3", "+5", "00"])
    func badLimits(raw: String) {
        #expect(FeedRequest.parse(limit: raw, cursor: nil) == .failure(.invalidLimit(raw)))
    }

    @Test("limit clamps to the cap, as Mastodon does")
    func limits() throws {
        #expect(try FeedRequest.parse(limit: nil, cursor: nil).get().limit == 20)
        #expect(try FeedRequest.parse(limit: "7", cursor: nil).get().limit == 7)
        #expect(try FeedRequest.parse(limit: "1000", cursor: nil).get().limit == FeedRequest.maximumLimit)
        #expect(try FeedRequest.parse(limit: "99999999999999999999999", cursor: nil).get().limit == FeedRequest.maximumLimit)
    }

    @Test("cursor tokens round-trip and garbage is refused")
    func cursors() throws {
        let cursor = FeedCursor(createdAt: Timestamp(microsecondsSinceEpoch: 1_700_000_000_123_456), uuid: "0b5e5d1c-5eed-4c0d-a7a1-000000000001")
        #expect(FeedCursor(token: cursor.token) == cursor)
        for bad in [
            "", "_", "1_2", "x_0b5e5d1c-5eed-4c0d-a7a1-000000000001", "-5_0b5e5d1c-5eed-4c0d-a7a1-000000000001",
            "1_0b5e5d1c-5eed-4c0d-a7a1-00000000000g", "1_0b5e5d1c-5eed-4c0d-a7a1-000000000001_2", "1_'; DROP TABLE users",
        ] {
            #expect(FeedCursor(token: bad) == nil)
        }
    }
}
