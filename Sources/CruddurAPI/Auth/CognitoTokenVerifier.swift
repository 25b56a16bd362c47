import CruddurDomain
import Foundation
import JWTKit
import Logging

/// The verified facts of a Cognito token.
public struct CognitoIdentity: Sendable, Equatable {
    /// The user's id in the pool (`sub`): `users.cognito_user_id`.
    public let subject: String
    /// `access` or `id`.
    public let tokenUse: String
    /// The verified access token itself (nil for an id token): it lets the server ask the pool about its user.
    public var accessToken: String? = nil
}

/// Verifies Cognito access and id tokens with jwt-kit against the user pool's published keys.
///
/// Accepts RS256 only (never `none`, never an HMAC keyed with the public key), with a `kid` the pool publishes;
/// checks `iss`, `exp`/`nbf`/`iat` with a small leeway, and `token_use`: an access token's `client_id` or an id
/// token's `aud` must be the app client.
public struct CognitoTokenVerifier: Sendable {
    /// Tokens longer than this are not Cognito's (theirs are 1–2 KiB; id tokens with many groups a little more).
    static let maximumTokenLength = 16 * 1024

    public let settings: CognitoSettings
    let keys: JWKSKeyStore

    public init(settings: CognitoSettings, logger: Logger) {
        self.init(settings: settings, logger: logger, metrics: nil)
    }

    init(settings: CognitoSettings, logger: Logger, metrics: ServerMetrics?) {
        self.settings = settings
        self.keys = JWKSKeyStore(settings: settings, logger: logger, metrics: metrics)
    }

    public func verify(_ token: String, now: Date = Date()) async throws(CognitoTokenError) -> CognitoIdentity {
        guard token.utf8.count <= Self.maximumTokenLength else {
            throw .malformed(reason: "it is longer than \(Self.maximumTokenLength) bytes")
        }
        let bytes = Array(token.utf8)
        let header: JWTHeader
        do {
            header = try DefaultJWTParser().parse(bytes, as: UnverifiedPayload.self).header
        } catch {
            throw .malformed(reason: "it is not three base64url parts holding JSON objects")
        }
        guard let algorithm = header.alg, algorithm == "RS256" else {
            throw .unsupportedAlgorithm(Self.printable(header.alg))
        }
        guard header.fields["crit"] == nil else {
            throw .malformed(reason: "it has critical header extensions this server does not support")
        }
        guard let keyID = header.kid, !keyID.isEmpty, keyID.count <= 256 else {
            throw .malformed(reason: "its header has no key id (kid)")
        }

        let collection: JWTKeyCollection
        switch await keys.keys(for: keyID) {
        case .found(let found): collection = found
        case .unknown: throw .unknownKey
        case .unavailable(let reason): throw .keysUnavailable(reason: reason)
        }

        let claims: CognitoClaims
        do {
            claims = try await collection.verify(bytes, as: CognitoClaims.self)
        } catch let error as JWTError where error.errorType == .malformedToken {
            throw .malformed(reason: "its claims lack sub, iss, exp or token_use, or have the wrong types")
        } catch {
            throw .badSignature
        }
        var identity = try check(claims, now: now)
        if identity.tokenUse == "access" { identity.accessToken = token }
        return identity
    }

    /// The claim checks, after the signature is known to be the pool's.
    func check(_ claims: CognitoClaims, now: Date) throws(CognitoTokenError) -> CognitoIdentity {
        guard claims.iss.value == settings.issuer else { throw .wrongIssuer }
        switch claims.tokenUse {
        case "access":
            guard claims.clientID == settings.clientID else { throw .wrongAudience }
        case "id":
            guard let audience = claims.aud, audience.value.contains(settings.clientID) else { throw .wrongAudience }
        default:
            throw .wrongTokenUse
        }
        let leeway = TimeInterval(settings.leeway.components.seconds)
        guard now.addingTimeInterval(-leeway) < claims.exp.value else { throw .expired }
        if let notBefore = claims.nbf, notBefore.value > now.addingTimeInterval(leeway) { throw .notYetValid }
        if let issuedAt = claims.iat, issuedAt.value > now.addingTimeInterval(leeway) { throw .notYetValid }
        let subject = claims.sub.value
        guard !subject.isEmpty, subject.count <= 128, subject.isStorableInPostgresText else {
            throw .malformed(reason: "its subject (sub) is empty or not a user id")
        }
        return CognitoIdentity(subject: subject, tokenUse: claims.tokenUse)
    }

    /// An algorithm name fit for an error message: letters and digits only.
    static func printable(_ algorithm: String?) -> String {
        guard let algorithm, (1...16).contains(algorithm.count),
            algorithm.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) })
        else { return "an unsupported algorithm" }
        return algorithm
    }
}
