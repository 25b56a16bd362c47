/// A keyset position in the home feed: everything strictly older than (`createdAt`, `uuid`).
public struct FeedCursor: Sendable, Hashable {
    public let createdAt: Timestamp
    public let uuid: String

    public init(createdAt: Timestamp, uuid: String) {
        self.createdAt = createdAt
        self.uuid = uuid
    }

    /// The opaque form used in URLs: `<microseconds>_<uuid>`, characters safe in a query string.
    public var token: String {
        "\(createdAt.microsecondsSinceEpoch)_\(uuid)"
    }

    /// Parses a token made by ``token``; nil when it is malformed.
    public init?(token: String) {
        let parts = token.split(separator: "_", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count <= 20, let micros = Int64(parts[0]), micros >= 0,
            UUIDText.isCanonical(parts[1])
        else { return nil }
        self.init(createdAt: Timestamp(microsecondsSinceEpoch: micros), uuid: parts[1].lowercased())
    }

}

/// What a client asked of the feed: how many, and from where.
public struct FeedRequest: Sendable, Hashable {
    /// Items per page when the client does not say.
    public static let defaultLimit = 20
    /// The most items a page holds; larger requests are clamped to it, as Mastodon does.
    public static let maximumLimit = 40

    public let limit: Int
    public let cursor: FeedCursor?

    public init(limit: Int = FeedRequest.defaultLimit, cursor: FeedCursor? = nil) {
        self.limit = limit
        self.cursor = cursor
    }

    /// Why a feed query string was refused.
    public enum Problem: Error, Sendable, Equatable {
        case invalidLimit(String)
        case invalidCursor
    }

    /// Parses the raw `limit` and `cursor` query values.
    public static func parse(limit rawLimit: String?, cursor rawCursor: String?) -> Result<FeedRequest, Problem> {
        var limit = defaultLimit
        if let rawLimit {
            let digits = rawLimit.utf8
            guard !digits.isEmpty, digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
                digits.contains(where: { $0 != UInt8(ascii: "0") })
            else { return .failure(.invalidLimit(rawLimit)) }
            // Digits only and not zero: anything too long for an Int is simply above the cap.
            limit = min(Int(rawLimit) ?? maximumLimit, maximumLimit)
        }
        var cursor: FeedCursor?
        if let rawCursor {
            guard let parsed = FeedCursor(token: rawCursor) else { return .failure(.invalidCursor) }
            cursor = parsed
        }
        return .success(FeedRequest(limit: limit, cursor: cursor))
    }
}
