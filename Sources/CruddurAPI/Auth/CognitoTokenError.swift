/// Why a bearer token was not accepted. Messages are one human sentence and never contain the token.
public enum CognitoTokenError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Not a JWT, or a JWT without the parts and claims a Cognito token has.
    case malformed(reason: String)
    /// Signed with something other than RS256 (`none`, `HS256`, …).
    case unsupportedAlgorithm(String)
    /// The signature does not match the key its `kid` names.
    case badSignature
    /// The `kid` is not in the pool's key set, even after a refresh.
    case unknownKey
    /// Issued by another user pool or service.
    case wrongIssuer
    /// Issued for another app client.
    case wrongAudience
    /// Neither an access token nor an id token.
    case wrongTokenUse
    case expired
    case notYetValid
    /// The pool no longer accepts the token (signed out, user deleted or disabled), as its `GetUser` says.
    case revoked
    /// The pool's key set could not be fetched, so the token cannot be checked.
    case keysUnavailable(reason: String)

    public var description: String {
        switch self {
        case .malformed(let reason): "The bearer token is malformed: \(reason)."
        case .unsupportedAlgorithm(let algorithm): "The token is signed with \(algorithm); only RS256 is accepted."
        case .badSignature: "The token's signature does not match the user pool's key."
        case .unknownKey: "The token is signed with a key the user pool does not publish."
        case .wrongIssuer: "The token was not issued by this server's user pool."
        case .wrongAudience: "The token was issued for another app client."
        case .wrongTokenUse: "The token is neither a Cognito access token nor an id token."
        case .expired: "The token has expired."
        case .notYetValid: "The token is not valid yet."
        case .revoked: "The user pool no longer accepts this token; sign in again."
        case .keysUnavailable: "The user pool's signing keys could not be fetched; try again shortly."
        }
    }
}
