/// A failed AWS call or an unusable AWS set-up, described in one line without secrets.
public enum AWSError: Error, CustomStringConvertible, Sendable {
    /// AWS answered with an error: its code (`DBInstanceNotFound`, `SignatureDoesNotMatch`…), message and request id.
    case service(ServiceError)
    /// AWS could not be reached, or did not answer within the deadline.
    case unreachable(service: String, action: String, endpoint: String, reason: String)
    /// AWS answered with something this client cannot read.
    case unexpectedResponse(service: String, action: String, reason: String)
    /// Credentials, region, profile or endpoint are missing or malformed.
    case configuration(String)

    public struct ServiceError: Sendable {
        public let service: String
        public let action: String
        public let code: String
        public let message: String
        public let requestId: String?
        public let httpStatus: Int

        public init(service: String, action: String, code: String, message: String, requestId: String?, httpStatus: Int) {
            self.service = service
            self.action = action
            self.code = code
            self.message = message
            self.requestId = requestId
            self.httpStatus = httpStatus
        }
    }

    /// The AWS error code, when AWS sent one.
    public var code: String? {
        if case .service(let error) = self { return error.code }
        return nil
    }

    /// True when AWS rejected who we are (bad key, bad signature, expired token) or what we may do.
    public var isAuthFailure: Bool {
        guard case .service(let error) = self else { return false }
        return Self.authCodes.contains(error.code) || error.httpStatus == 401
    }

    /// True for failures a retry may fix: throttling and AWS's own 5xx errors. An unreachable endpoint is not
    /// retried here: the HTTP client already keeps trying to connect until the call's deadline.
    public var isTransient: Bool {
        guard case .service(let error) = self else { return false }
        return error.httpStatus >= 500 || Self.throttlingCodes.contains(error.code)
    }

    static let noAnswerInTime = "no answer in time"

    static let throttlingCodes: Set<String> = [
        "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottled", "RequestThrottledException",
        "RequestLimitExceeded", "TooManyRequestsException", "SlowDown", "ProvisionedThroughputExceededException",
    ]

    static let authCodes: Set<String> = [
        "SignatureDoesNotMatch", "InvalidClientTokenId", "UnrecognizedClientException", "AuthFailure", "InvalidAccessKeyId",
        "ExpiredToken", "ExpiredTokenException", "IncompleteSignature", "MissingAuthenticationToken", "InvalidSignatureException",
        "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "NotAuthorized",
    ]

    public var description: String {
        switch self {
        case .service(let error):
            var text = "AWS \(error.service) \(error.action) failed: \(error.code): \(error.message)"
            if !text.hasSuffix(".") { text += "." }
            text += " (HTTP \(error.httpStatus)\(error.requestId.map { ", request id \($0)" } ?? ""))"
            if Self.authCodes.contains(error.code) {
                text += " Check the AWS credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE), the clock, and the key's permissions."
            }
            return text
        case .unreachable(let service, let action, let endpoint, let reason):
            return "AWS \(service) \(action) failed: cannot reach \(endpoint): \(reason)"
        case .unexpectedResponse(let service, let action, let reason):
            return "AWS \(service) \(action) failed: unexpected response: \(reason)"
        case .configuration(let text):
            return text
        }
    }
}
