import Foundation
import JWTKit

/// The claims Cruddur reads from a Cognito access or id token.
///
/// `verify(using:)` checks nothing: the checks need the server's settings (issuer, client id, leeway), which
/// jwt-kit's hook cannot see, so ``CognitoTokenVerifier`` makes them after the signature is verified.
struct CognitoClaims: JWTPayload {
    let sub: SubjectClaim
    let iss: IssuerClaim
    let exp: ExpirationClaim
    let nbf: NotBeforeClaim?
    let iat: IssuedAtClaim?
    /// `access` or `id`.
    let tokenUse: String
    /// The app client of an access token.
    let clientID: String?
    /// The app client of an id token.
    let aud: AudienceClaim?

    enum CodingKeys: String, CodingKey {
        case sub, iss, exp, nbf, iat, aud
        case tokenUse = "token_use"
        case clientID = "client_id"
    }

    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// Stands in for the payload while the header is read (before the signature is checked, to pick the key):
/// only requires the payload to be a JSON object.
struct UnverifiedPayload: JWTPayload {
    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    init(from decoder: any Decoder) throws {
        _ = try decoder.container(keyedBy: AnyKey.self)
    }

    func encode(to encoder: any Encoder) throws {
        _ = encoder.container(keyedBy: AnyKey.self)
    }

    func verify(using algorithm: some JWTAlgorithm) async throws {}
}
