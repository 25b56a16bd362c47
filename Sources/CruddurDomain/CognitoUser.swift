/// A user as Cognito confirmed them: the attributes the post-confirmation trigger stores in `public.users`.
///
/// Validated on construction, so a stored user always has a UUID `sub`, an e-mail address, a display name
/// and a handle that PostgreSQL can store and the web pages can show.
public struct CognitoUser: Sendable, Equatable {
    /// Cognito's `sub`: the key of the user's row (`users.cognito_user_id`).
    public let cognitoUserID: String
    public let email: String
    /// Cognito's `name`.
    public let displayName: String
    /// Cognito's `preferred_username`.
    public let handle: String

    /// The longest e-mail address SMTP allows.
    public static let maximumEmailLength = 254
    /// Cognito's own limit on a string attribute.
    public static let maximumDisplayNameLength = 2048
    public static let maximumHandleLength = 64

    /// Checks each attribute in turn; the first problem found is thrown.
    public init(sub: String, email: String, name: String, preferredUsername: String) throws(CognitoUserAttributeError) {
        guard UUIDText.isCanonical(sub) else { throw CognitoUserAttributeError(attribute: "sub", problem: .invalid("is not a UUID")) }
        let email = try Self.check(email, attribute: "email", maximumLength: Self.maximumEmailLength)
        guard Self.looksLikeEmail(email) else {
            throw CognitoUserAttributeError(attribute: "email", problem: .invalid("is not an e-mail address"))
        }
        let displayName = try Self.check(name, attribute: "name", maximumLength: Self.maximumDisplayNameLength)
        let handle = try Self.check(preferredUsername, attribute: "preferred_username", maximumLength: Self.maximumHandleLength)
        guard !handle.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0 == "/" || $0 == "@" }) else {
            throw CognitoUserAttributeError(attribute: "preferred_username", problem: .invalid("contains a space, '/' or '@'"))
        }
        self.cognitoUserID = sub
        self.email = email
        self.displayName = displayName
        self.handle = handle
    }

    /// Trims surrounding white space and rejects blank, over-long and control-character values (NUL among them:
    /// PostgreSQL cannot store it).
    private static func check(_ value: String, attribute: String, maximumLength: Int) throws(CognitoUserAttributeError) -> String {
        let trimmed = value.trimmingWhitespace
        guard !trimmed.isEmpty else { throw CognitoUserAttributeError(attribute: attribute, problem: .blank) }
        guard trimmed.unicodeScalars.count <= maximumLength else {
            throw CognitoUserAttributeError(attribute: attribute, problem: .tooLong(maximum: maximumLength))
        }
        guard !trimmed.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw CognitoUserAttributeError(attribute: attribute, problem: .invalid("contains control characters"))
        }
        return trimmed
    }

    /// One `@` with text on both sides, and no white space.
    static func looksLikeEmail(_ text: String) -> Bool {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        return parts.count == 2 && !parts[0].isEmpty && !parts[1].isEmpty
            && !text.unicodeScalars.contains(where: { $0.properties.isWhitespace })
    }
}

/// One attribute of a Cognito user that cannot be stored, and why.
public struct CognitoUserAttributeError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Problem: Equatable, Sendable {
        case blank
        case tooLong(maximum: Int)
        case invalid(String)
    }

    public let attribute: String
    public let problem: Problem

    public init(attribute: String, problem: Problem) {
        self.attribute = attribute
        self.problem = problem
    }

    public var description: String {
        switch problem {
        case .blank: "user attribute '\(attribute)' is blank"
        case .tooLong(let maximum): "user attribute '\(attribute)' is longer than \(maximum) characters"
        case .invalid(let reason): "user attribute '\(attribute)' \(reason)"
        }
    }
}

extension String {
    /// The text without leading and trailing white space (Unicode's definition).
    var trimmingWhitespace: String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
            let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return String(String.UnicodeScalarView(scalars[first...last]))
    }
}
