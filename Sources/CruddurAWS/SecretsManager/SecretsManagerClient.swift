import Foundation

/// Secrets Manager (JSON 1.1 protocol): reading the master-user secret RDS manages.
public struct SecretsManagerClient: Sendable {
    let client: AWSClient

    public init(_ client: AWSClient) {
        self.client = client
    }

    /// The `username`/`password` pair of an RDS-managed master-user secret.
    public struct DatabaseCredentials: Sendable {
        public let username: String?
        public let password: String
    }

    public func databaseCredentials(secretId: String) async throws -> DatabaseCredentials {
        let answer = try await client.json(
            service: "secretsmanager", targetPrefix: "secretsmanager", action: "GetSecretValue", body: ["SecretId": secretId], readOnly: true
        )
        guard let text = answer["SecretString"] as? String,
            let secret = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any],
            let password = secret["password"] as? String, !password.isEmpty
        else {
            throw AWSError.unexpectedResponse(
                service: "secretsmanager", action: "GetSecretValue", reason: "the secret is not a JSON object with a password"
            )
        }
        return DatabaseCredentials(username: secret["username"] as? String, password: password)
    }
}
