import CruddurDatabase
import CruddurDomain
import HTTPTypes
import Hummingbird
import Logging

/// Decides who a post is from.
///
/// With Cognito configured, the author is the user whose `cognito_user_id` is the verified bearer token's `sub`,
/// and the body's `user_handle` is ignored. In local development mode (no Cognito settings) the body's
/// `user_handle` decides, as in the seed.
struct ActivityAuthorResolver: Sendable {
    /// nil: local development mode.
    let verifier: CognitoTokenVerifier?

    /// Before the body is read: the verified identity (Cognito mode), or nil (local mode).
    /// Throws `401` (no or bad token) or `503` (the pool's keys cannot be fetched).
    func authenticate(_ request: Request, logger: Logger) async throws -> CognitoIdentity? {
        guard let verifier else { return nil }
        let token: String
        switch BearerToken.parse(request.headers[values: .authorization]) {
        case .missing:
            throw AuthenticationResponse.missingToken
        case .malformed:
            throw AuthenticationResponse.rejected(.malformed(reason: "the Authorization header is not `Bearer <token>`"))
        case .token(let value):
            token = value
        }
        do throws(CognitoTokenError) {
            return try await verifier.verify(token)
        } catch .keysUnavailable(let reason) {
            logger.debug("Cannot check a bearer token: the user pool's keys are unavailable", metadata: ["reason": "\(reason)"])
            throw AuthenticationResponse.keysUnavailable
        } catch {
            logger.debug("Rejected a bearer token", metadata: ["reason": "\(error)"])
            throw AuthenticationResponse.rejected(error)
        }
    }
}

/// The `Authorization` header's bearer token (RFC 6750 §2.1).
enum BearerToken: Equatable {
    /// No `Authorization` header, or one for another scheme.
    case missing
    /// `Bearer` without a well-formed token, or several `Authorization` headers.
    case malformed
    case token(String)

    static func parse(_ values: [String]) -> BearerToken {
        guard let value = values.first else { return .missing }
        guard values.count == 1 else { return .malformed }
        let parts = value.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard let scheme = parts.first, scheme.lowercased() == "bearer" else { return .missing }
        guard parts.count == 2 else { return .malformed }
        let token = parts[1].trimmingSpaces
        guard !token.isEmpty, token.unicodeScalars.allSatisfy(isToken68) else { return .malformed }
        return .token(String(token))
    }

    /// RFC 6750's `b64token` characters.
    private static func isToken68(_ scalar: Unicode.Scalar) -> Bool {
        scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || "-._~+/=".unicodeScalars.contains(scalar))
    }
}

extension Substring {
    fileprivate var trimmingSpaces: Substring {
        var text = self
        while text.last == " " || text.last == "\t" { text = text.dropLast() }
        while text.first == " " || text.first == "\t" { text = text.dropFirst() }
        return text
    }
}

/// The HTTP answers to failed authentication: JSON error bodies, and `WWW-Authenticate` on every `401`.
enum AuthenticationResponse {
    static let realm = "cruddur"

    /// No credentials: RFC 6750 §3.1 says to send no error code.
    static var missingToken: APIError {
        var error = APIError(
            .unauthorized, code: "missing_token",
            message: "Posting needs a signed-in user: send Authorization: Bearer <Cognito token>."
        )
        error.headers[.wwwAuthenticate] = "Bearer realm=\"\(realm)\""
        return error
    }

    /// A token that is not acceptable: `error="invalid_token"` with the reason as its description.
    static func rejected(_ failure: CognitoTokenError) -> APIError {
        var error = APIError(.unauthorized, code: failure == .expired ? "token_expired" : "invalid_token", message: failure.description)
        error.headers[.wwwAuthenticate] =
            "Bearer realm=\"\(realm)\", error=\"invalid_token\", error_description=\"\(quotable(failure.description))\""
        return error
    }

    /// The token cannot be checked now; retrying later can succeed.
    static var keysUnavailable: APIError {
        var error = APIError(
            .serviceUnavailable, code: "auth_unavailable",
            message: "The user pool's signing keys could not be fetched, so the token cannot be checked; try again shortly."
        )
        error.headers[.retryAfter] = "5"
        return error
    }

    /// RFC 6750 allows `%x20-21 / %x23-5B / %x5D-7E` in `error_description`.
    static func quotable(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.filter { (0x20...0x7E).contains($0.value) && $0 != "\"" && $0 != "\\" }))
    }
}
