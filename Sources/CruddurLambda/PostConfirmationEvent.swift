import CruddurDomain

/// A Cognito post-confirmation event, checked.
///
/// Only the fields the trigger uses are read; the event itself is returned to Cognito byte for byte.
enum PostConfirmationEvent: Equatable, Sendable {
    /// The trigger sources this function stores users for.
    static let confirmationSources: Set<String> = ["PostConfirmation_ConfirmSignUp", "PostConfirmation_ConfirmForgotPassword"]

    /// A confirmation: the user to store.
    case confirmation(triggerSource: String, userPoolID: String, user: CognitoUser)
    /// Some other trigger source: returned unchanged, nothing written.
    case ignored(triggerSource: String)

    /// Reads and validates an event; throws ``InvalidEventError`` naming the first problem.
    static func parse(_ bytes: [UInt8]) throws(InvalidEventError) -> PostConfirmationEvent {
        let document: JSONValue
        do {
            document = try JSONValue.parse(bytes)
        } catch {
            throw .notJSON
        }
        guard case .object(let event) = document else { throw .wrongType(path: "event", expected: "an object", found: document.typeName) }
        let triggerSource = try string(event, "triggerSource", path: "triggerSource")
        guard confirmationSources.contains(triggerSource) else { return .ignored(triggerSource: triggerSource) }
        let userPoolID = try string(event, "userPoolId", path: "userPoolId")
        guard CognitoUserPoolID(userPoolID) != nil else {
            throw .invalidField(path: "userPoolId", reason: "is not a user pool id like us-east-1_AbC123")
        }
        let request = try object(event, "request", path: "request")
        let attributes = try object(request, "userAttributes", path: "request.userAttributes")
        let path = "request.userAttributes."
        let sub = try string(attributes, "sub", path: path + "sub")
        let email = try string(attributes, "email", path: path + "email")
        let name = try string(attributes, "name", path: path + "name")
        let preferredUsername = try string(attributes, "preferred_username", path: path + "preferred_username")
        do throws(CognitoUserAttributeError) {
            let user = try CognitoUser(sub: sub, email: email, name: name, preferredUsername: preferredUsername)
            return .confirmation(triggerSource: triggerSource, userPoolID: userPoolID, user: user)
        } catch {
            throw .invalidAttribute(error)
        }
    }

    private static func string(_ object: [String: JSONValue], _ key: String, path: String) throws(InvalidEventError) -> String {
        switch object[key] {
        case nil: throw .missing(path: path)
        case .string(let value)?: return value
        case let other?: throw .wrongType(path: path, expected: "a string", found: other.typeName)
        }
    }

    private static func object(_ object: [String: JSONValue], _ key: String, path: String) throws(InvalidEventError) -> [String: JSONValue] {
        switch object[key] {
        case nil: throw .missing(path: path)
        case .object(let value)?: return value
        case let other?: throw .wrongType(path: path, expected: "an object", found: other.typeName)
        }
    }
}

/// Why an event cannot be handled; the message names the field, never its value.
public enum InvalidEventError: Error, Equatable, Sendable, CustomStringConvertible {
    case notJSON
    case missing(path: String)
    case wrongType(path: String, expected: String, found: String)
    case invalidField(path: String, reason: String)
    case invalidAttribute(CognitoUserAttributeError)

    public var description: String {
        switch self {
        case .notJSON: "the event is not valid JSON"
        case .missing(let path): "the event has no \(path)"
        case .wrongType(let path, let expected, let found): "the event's \(path) must be \(expected), not \(found)"
        case .invalidField(let path, let reason): "the event's \(path) \(reason)"
        case .invalidAttribute(let error): "the event's \(error)"
        }
    }
}
