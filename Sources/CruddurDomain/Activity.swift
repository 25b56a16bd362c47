#if canImport(Glibc)
import Glibc
#endif

/// An instant with microsecond precision, as PostgreSQL keeps `timestamptz`.
public struct Timestamp: Sendable, Hashable, Comparable {
    /// Microseconds since 1970-01-01T00:00:00Z.
    public let microsecondsSinceEpoch: Int64

    public init(microsecondsSinceEpoch: Int64) {
        self.microsecondsSinceEpoch = microsecondsSinceEpoch
    }

    /// This machine's clock, now.
    public static func now() -> Timestamp {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Timestamp(microsecondsSinceEpoch: Int64(time.tv_sec) * 1_000_000 + Int64(time.tv_nsec) / 1_000)
    }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
        lhs.microsecondsSinceEpoch < rhs.microsecondsSinceEpoch
    }

    /// ISO-8601 in UTC with microseconds, e.g. `2026-11-26T10:32:57.123456Z`.
    public var iso8601: String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(27)
        appendISO8601(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// ``iso8601``'s UTF-8 bytes appended to `bytes`, without building a string (the feed writes two per row).
    public func appendISO8601(to bytes: inout [UInt8]) {
        let (year, month, day, secondOfDay, fraction) = fields
        if (0...9999).contains(year) {
            appendDigits(year, 4, to: &bytes)
        } else {
            bytes.append(contentsOf: pad(year, 4).utf8)
        }
        bytes.append(UInt8(ascii: "-"))
        appendDigits(month, 2, to: &bytes)
        bytes.append(UInt8(ascii: "-"))
        appendDigits(day, 2, to: &bytes)
        bytes.append(UInt8(ascii: "T"))
        appendDigits(secondOfDay / 3600, 2, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
        appendDigits(secondOfDay / 60 % 60, 2, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
        appendDigits(secondOfDay % 60, 2, to: &bytes)
        bytes.append(UInt8(ascii: "."))
        appendDigits(fraction, 6, to: &bytes)
        bytes.append(UInt8(ascii: "Z"))
    }

    /// The UTC calendar date, the second of its day and the microseconds past that second.
    private var fields: (year: Int64, month: Int64, day: Int64, secondOfDay: Int64, fraction: Int64) {
        let micros = microsecondsSinceEpoch
        let seconds = micros.floorDivided(by: 1_000_000)
        let days = seconds.floorDivided(by: 86_400)
        let (year, month, day) = Self.civilDate(daysSinceEpoch: days)
        return (year, month, day, seconds - days * 86_400, micros - seconds * 1_000_000)
    }

    /// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
    private static func civilDate(daysSinceEpoch: Int64) -> (Int64, Int64, Int64) {
        let z = daysSinceEpoch + 719_468
        let era = z.floorDivided(by: 146_097)
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }
}

/// `value` (0 or more, under 10^width) as exactly `width` decimal digits.
private func appendDigits(_ value: Int64, _ width: Int, to bytes: inout [UInt8]) {
    var divisor: Int64 = 1
    for _ in 1..<width { divisor *= 10 }
    var rest = value
    while divisor > 0 {
        bytes.append(UInt8(ascii: "0") + UInt8(truncatingIfNeeded: rest / divisor))
        rest %= divisor
        divisor /= 10
    }
}

private func pad(_ value: Int64, _ width: Int) -> String {
    let digits = String(value)
    return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
}

extension Int64 {
    fileprivate func floorDivided(by divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor < 0) ? quotient - 1 : quotient
    }
}

/// An activity as the home feed shows it.
public struct FeedActivity: Sendable, Equatable {
    public let uuid: String
    public let displayName: String
    public let handle: String
    public let message: String
    public let repliesCount: Int32
    public let repostsCount: Int32
    public let likesCount: Int32
    public let replyToActivityUUID: String?
    public let expiresAt: Timestamp
    public let createdAt: Timestamp

    public init(
        uuid: String, displayName: String, handle: String, message: String,
        repliesCount: Int32, repostsCount: Int32, likesCount: Int32,
        replyToActivityUUID: String?, expiresAt: Timestamp, createdAt: Timestamp
    ) {
        self.uuid = uuid
        self.displayName = displayName
        self.handle = handle
        self.message = message
        self.repliesCount = repliesCount
        self.repostsCount = repostsCount
        self.likesCount = likesCount
        self.replyToActivityUUID = replyToActivityUUID
        self.expiresAt = expiresAt
        self.createdAt = createdAt
    }

    /// Where the next page starts when this is the last activity of a page.
    public var cursor: FeedCursor {
        FeedCursor(createdAt: createdAt, uuid: uuid)
    }
}

/// A freshly created activity, as `POST /api/activities` returns it.
public struct CreatedActivity: Sendable, Equatable {
    public let uuid: String
    public let displayName: String
    public let handle: String
    public let message: String
    public let createdAt: Timestamp
    public let expiresAt: Timestamp

    public init(uuid: String, displayName: String, handle: String, message: String, createdAt: Timestamp, expiresAt: Timestamp) {
        self.uuid = uuid
        self.displayName = displayName
        self.handle = handle
        self.message = message
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }
}
