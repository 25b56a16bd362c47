/// An access key pair, with a session token for temporary credentials.
public struct AWSCredentials: Sendable, CustomStringConvertible {
    public let accessKeyId: String
    public let secretAccessKey: String
    public let sessionToken: String?
    /// Where they came from, for messages ("environment", "profile cruddur in ~/.aws/credentials").
    public let source: String

    public init(accessKeyId: String, secretAccessKey: String, sessionToken: String? = nil, source: String = "given") {
        self.accessKeyId = accessKeyId
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.source = source
    }

    /// Names the key and its source only: the secret and the token never appear in text.
    public var description: String {
        "access key \(accessKeyId) from \(source)"
    }
}
