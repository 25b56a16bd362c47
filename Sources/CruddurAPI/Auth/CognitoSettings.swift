import CruddurDomain

/// How writes are authenticated: with an Amazon Cognito user pool's tokens, or (local development) not at all.
public struct CognitoSettings: Sendable, Equatable {
    /// The pool's region, e.g. `us-east-1`.
    public var region: String
    /// The user pool, e.g. `us-east-1_AbCdEf123`.
    public var userPoolID: String
    /// The app client whose tokens are accepted.
    public var clientID: String
    /// Where the pool's signing keys are published; the pool's own `/.well-known/jwks.json` unless overridden (tests).
    public var jwksURL: String
    /// The deadline of one JWKS fetch, connecting included.
    public var fetchTimeout: Duration
    /// The shortest time between two JWKS fetches caused by tokens with unknown key ids.
    public var minimumRefreshInterval: Duration
    /// The shortest time between a failed JWKS fetch and the next attempt.
    public var failureRetryInterval: Duration
    /// The clock skew allowed when checking `exp`, `nbf` and `iat`.
    public var leeway: Duration
    /// Where Cognito's API is (`AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER` or `AWS_ENDPOINT_URL`); nil: AWS itself.
    public var identityProviderEndpoint: String?

    public init(
        region: String, userPoolID: String, clientID: String, jwksURL: String? = nil,
        fetchTimeout: Duration = .seconds(5), minimumRefreshInterval: Duration = .seconds(30),
        failureRetryInterval: Duration = .seconds(5), leeway: Duration = .seconds(30)
    ) {
        self.region = region
        self.userPoolID = userPoolID
        self.clientID = clientID
        self.jwksURL = jwksURL ?? Self.defaultJWKSURL(region: region, userPoolID: userPoolID)
        self.fetchTimeout = fetchTimeout
        self.minimumRefreshInterval = minimumRefreshInterval
        self.failureRetryInterval = failureRetryInterval
        self.leeway = leeway
    }

    /// The `iss` of every token the pool issues.
    public var issuer: String {
        "https://cognito-idp.\(region).amazonaws.com/\(userPoolID)"
    }

    /// `https://cognito-idp.<region>.amazonaws.com/<poolId>/.well-known/jwks.json`.
    public static func defaultJWKSURL(region: String, userPoolID: String) -> String {
        "https://cognito-idp.\(region).amazonaws.com/\(userPoolID)/.well-known/jwks.json"
    }

    /// An AWS region name such as `eu-west-2` or `us-gov-west-1`.
    public static func isRegion(_ text: some StringProtocol) -> Bool {
        CognitoUserPoolID.isRegion(text)
    }

    /// An app client id: ASCII letters and digits (Cognito's are 26 characters).
    public static func isClientID(_ text: String) -> Bool {
        (1...128).contains(text.count) && text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) }
    }
}
