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

/// Who a post is from.
public enum Author: Sendable, Equatable {
    /// Local development mode: the body's `user_handle`, as in the seed.
    case handle(String)
    /// Cognito mode: the verified token's `sub`, matched against `users.cognito_user_id` (the body's handle is ignored).
    case cognitoSub(String)
}

/// A post that passed validation (except the author's existence, which only the database knows).
public struct NewActivity: Sendable, Equatable {
    /// The longest message, in Unicode code points (the seed counts with Python's `len`).
    public static let maximumMessageLength = 280

    public let author: Author
    public let message: String
    public let ttl: TimeToLive

    public init(author: Author, message: String, ttl: TimeToLive) {
        self.author = author
        self.message = message
        self.ttl = ttl
    }

    /// Validates a draft and returns every error that applies, in the seed's order. With `cognitoSub` (a verified
    /// token's subject) that user is the author and the draft's `user_handle` is not looked at.
    public static func validate(_ draft: ActivityDraft, cognitoSub: String? = nil) -> Result<NewActivity, ValidationFailure> {
        var errors: [ActivityValidationError] = []
        let message = draft.message ?? ""
        if message.isBlank {
            errors.append(.messageBlank)
        } else if message.unicodeScalars.count > maximumMessageLength {
            errors.append(.messageExceedMaxChars)
        }
        let author: Author
        if let cognitoSub {
            author = .cognitoSub(cognitoSub)
        } else {
            let handle = draft.userHandle ?? ""
            if handle.isBlank {
                errors.append(.userHandleBlank)
            }
            author = .handle(handle)
        }
        let ttl = draft.ttl.flatMap(TimeToLive.init(rawValue:))
        if ttl == nil {
            errors.append(.ttlBlank)
        }
        guard errors.isEmpty, let ttl else {
            return .failure(ValidationFailure(errors: errors, author: errors.contains(.userHandleBlank) ? nil : author))
        }
        return .success(NewActivity(author: author, message: message, ttl: ttl))
    }
}

/// All the reasons a draft was rejected.
public struct ValidationFailure: Error, Sendable, Equatable {
    public var errors: [ActivityValidationError]
    /// The author the draft names, when it names one (whose existence the caller may still check, so that every
    /// code that applies is reported).
    public var author: Author?

    public init(errors: [ActivityValidationError], author: Author? = nil) {
        self.errors = errors
        self.author = author
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
