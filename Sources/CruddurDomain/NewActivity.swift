/// The error codes of a rejected post, as the seed's frontend knows them.
public enum ActivityValidationError: String, Error, Sendable, Codable, CaseIterable {
    case messageBlank = "message_blank"
    case messageExceedMaxChars = "message_exceed_max_chars"
    case userHandleBlank = "user_handle_blank"
    case ttlBlank = "ttl_blank"
    case userHandleNotFound = "user_handle_not_found"
    /// The author sent this `Idempotency-Key` with a different message or TTL within 24 hours.
    case idempotencyKeyReused = "idempotency_key_reused"
}

/// An `Idempotency-Key` header value: 1 to 255 visible ASCII characters (a UUID is typical).
public struct IdempotencyKey: Sendable, Equatable {
    public let value: String

    public init?(_ value: String) {
        guard (1...255).contains(value.utf8.count), value.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else { return nil }
        self.value = value
    }
}

/// A post as submitted: every field optional, exactly as it arrived.
public struct ActivityDraft: Sendable, Equatable {
    public var userHandle: String?
    public var message: String?
    public var ttl: String?

    public init(userHandle: String?, message: String?, ttl: String?) {
        self.userHandle = userHandle
        self.message = message
        self.ttl = ttl
    }
}

/// A post that passed validation (except the author's existence, which only the database knows).
public struct NewActivity: Sendable, Equatable {
    /// The longest message, in Unicode code points (the seed counts with Python's `len`).
    public static let maximumMessageLength = 280

    public let userHandle: String
    public let message: String
    public let ttl: TimeToLive

    /// Validates a draft and returns every error that applies, in the seed's order.
    public static func validate(_ draft: ActivityDraft) -> Result<NewActivity, ValidationFailure> {
        var errors: [ActivityValidationError] = []
        let message = draft.message ?? ""
        if message.isBlank {
            errors.append(.messageBlank)
        } else if message.unicodeScalars.count > maximumMessageLength {
            errors.append(.messageExceedMaxChars)
        }
        let handle = draft.userHandle ?? ""
        if handle.isBlank {
            errors.append(.userHandleBlank)
        }
        let ttl = draft.ttl.flatMap(TimeToLive.init(rawValue:))
        if ttl == nil {
            errors.append(.ttlBlank)
        }
        guard errors.isEmpty, let ttl else {
            return .failure(ValidationFailure(errors: errors))
        }
        return .success(NewActivity(userHandle: handle, message: message, ttl: ttl))
    }
}

/// All the reasons a draft was rejected.
public struct ValidationFailure: Error, Sendable, Equatable {
    public var errors: [ActivityValidationError]

    public init(errors: [ActivityValidationError]) {
        self.errors = errors
    }
}

extension String {
    /// Empty or whitespace only.
    var isBlank: Bool {
        allSatisfy(\.isWhitespace)
    }

    /// True when PostgreSQL's `text` can hold the string (it cannot hold NUL).
    public var isStorableInPostgresText: Bool {
        !utf8.contains(0)
    }
}
