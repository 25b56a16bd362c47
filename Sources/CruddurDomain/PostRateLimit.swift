/// How many posts one author may make per window (`POST_RATE_LIMIT`, like Mastodon's 300 per 3 hours per account).
///
/// Windows are fixed: the first post after a window has passed starts the next one.
public struct PostRateLimit: Sendable, Equatable, CustomStringConvertible {
    public let posts: Int
    public let windowSeconds: Int

    /// 300 posts per 3 hours.
    public static let standard = PostRateLimit(posts: 300, windowSeconds: 3 * 3_600)!

    public init?(posts: Int, windowSeconds: Int) {
        guard (1...1_000_000_000).contains(posts), (1...366 * 86_400).contains(windowSeconds) else { return nil }
        self.posts = posts
        self.windowSeconds = windowSeconds
    }

    /// `COUNT/WINDOW` with the window in `s`, `m`, `h` or `d` (`300/3h`, `10/90s`); nil when malformed.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].allSatisfy(\.isNumber), let posts = Int(parts[0]), let unit = parts[1].last,
            let amount = Int(parts[1].dropLast()), parts[1].dropLast().allSatisfy(\.isNumber)
        else { return nil }
        let seconds: Int
        switch unit {
        case "s": seconds = amount
        case "m": seconds = amount * 60
        case "h": seconds = amount * 3_600
        case "d": seconds = amount * 86_400
        default: return nil
        }
        self.init(posts: posts, windowSeconds: seconds)
    }

    /// `300 posts per 10800 s`.
    public var description: String { "\(posts) posts per \(windowSeconds) s" }
}
