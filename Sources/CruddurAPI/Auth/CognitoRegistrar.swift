import AsyncHTTPClient
import CruddurAWS
import CruddurDatabase
import CruddurDomain
import Logging
import NIOCore

/// Gives a verified Cognito user whose post-confirmation trigger failed their `users` row on first use, from the
/// pool's own answer: `GetUser` with their access token (no AWS credentials needed), then the very upsert the
/// Lambda runs, with the same conflict rules. Without it such a user could never post.
struct CognitoRegistrar: Sendable {
    let configuration: AWSConfiguration
    let timeout: Duration
    let users: CognitoUserRepository

    init(settings: CognitoSettings, users: CognitoUserRepository, logger: Logger) throws {
        self.configuration = try AWSConfiguration.unsigned(
            region: settings.region, endpointURL: settings.identityProviderEndpoint, variable: "AWS_ENDPOINT_URL")
        self.timeout = settings.fetchTimeout
        self.users = users
    }

    /// `GetUser` on a client of its own (registrations are rare): like the JWKS fetch, it fails at once when the
    /// connection is refused instead of retrying until the deadline.
    private func getUser(accessToken: String, logger: Logger) async throws -> CognitoIdentityProviderClient.User {
        var httpConfiguration = HTTPClient.Configuration()
        httpConfiguration.timeout = .init(connect: TimeAmount(timeout), read: TimeAmount(timeout))
        httpConfiguration.connectionPool.retryConnectionEstablishment = false
        httpConfiguration.redirectConfiguration = .disallow
        let httpClient = HTTPClient(
            eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: httpConfiguration, backgroundActivityLogger: logger)
        let client = AWSClient(configuration: configuration, httpClient: httpClient, timeout: timeout, logger: logger)
        do {
            let user = try await CognitoIdentityProviderClient(client).getUser(accessToken: accessToken)
            try? await httpClient.shutdown()
            return user
        } catch {
            try? await httpClient.shutdown()
            throw error
        }
    }

    /// Creates the row, or throws the API's answer: `401` when the pool no longer accepts the token, `403` when the
    /// user cannot be stored (an id token, attributes the Lambda would refuse), `409` when the handle is taken,
    /// `503` when the pool cannot be asked.
    func register(_ identity: CognitoIdentity, logger: Logger) async throws {
        guard let accessToken = identity.accessToken else { throw Self.notRegistered("sign in again to post (an access token is needed)") }
        let answer: CognitoIdentityProviderClient.User
        do {
            answer = try await getUser(accessToken: accessToken, logger: logger)
        } catch AWSError.service(let failure) where ["NotAuthorizedException", "UserNotFoundException"].contains(failure.code) {
            throw AuthenticationResponse.rejected(.revoked)
        } catch {
            logger.warning("Asking the user pool about a new user failed", metadata: ["error": "\(error)"])
            var unavailable = APIError(
                .serviceUnavailable, code: "auth_unavailable",
                message: "The user pool cannot be asked about this user to create their account; try again shortly."
            )
            unavailable.headers[.retryAfter] = "5"
            throw unavailable
        }
        let attributes = answer.attributes
        guard attributes["sub"] == identity.subject else { throw AuthenticationResponse.rejected(.revoked) }
        let user: CognitoUser
        do {
            user = try CognitoUser(
                sub: identity.subject, email: attributes["email"] ?? "", name: attributes["name"] ?? "",
                preferredUsername: attributes["preferred_username"] ?? ""
            )
        } catch {
            throw Self.notRegistered("the user pool's attributes cannot make an account (\(error))")
        }
        do {
            let outcome = try await users.upsert(user)
            logger.info("Registered a Cognito user on first use", metadata: ["sub": "\(user.cognitoUserID)", "outcome": "\(outcome)"])
        } catch let error as CognitoUserRepositoryError {
            throw APIError(.conflict, code: "handle_taken", message: "\(error)")
        }
    }

    static func notRegistered(_ reason: String) -> APIError {
        APIError(.forbidden, code: "user_not_registered", message: "This Cognito user has no Cruddur account yet: \(reason).")
    }
}
