import Foundation

/// Amazon Cognito user pools (JSON 1.1 protocol, `AWSCognitoIdentityProviderService`): the calls a signed-in user's
/// own access token authorises, which need no AWS credentials and are sent unsigned.
public struct CognitoIdentityProviderClient: Sendable {
    let client: AWSClient

    public init(_ client: AWSClient) {
        self.client = client
    }

    /// A user as `GetUser` describes them.
    public struct User: Sendable, Equatable {
        public let username: String
        public let attributes: [String: String]
    }

    /// `GetUser` with `accessToken`: the token's user and their attributes.
    public func getUser(accessToken: String) async throws -> User {
        let answer = try await client.json(
            service: "cognito-idp", targetPrefix: "AWSCognitoIdentityProviderService", action: "GetUser",
            body: ["AccessToken": accessToken], readOnly: true, signed: false
        )
        guard let username = answer["Username"] as? String, let list = answer["UserAttributes"] as? [[String: Any]] else {
            throw AWSError.unexpectedResponse(service: "cognito-idp", action: "GetUser", reason: "no Username or UserAttributes")
        }
        var attributes: [String: String] = [:]
        for entry in list {
            if let name = entry["Name"] as? String, let value = entry["Value"] as? String { attributes[name] = value }
        }
        return User(username: username, attributes: attributes)
    }
}
