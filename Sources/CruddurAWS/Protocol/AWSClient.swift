import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// Sends SigV4-signed requests to AWS services: the Query protocol (form POST, XML answer; RDS, EC2)
/// and the JSON 1.1 protocol (Secrets Manager). Every call has a deadline; every failure is an `AWSError`.
public struct AWSClient: Sendable {
    public let configuration: AWSConfiguration
    let httpClient: HTTPClient
    let timeout: Duration
    let logger: Logger
    /// The clock signing uses; tests may pin it.
    let now: @Sendable () -> Date

    public init(
        configuration: AWSConfiguration,
        httpClient: HTTPClient = .shared,
        timeout: Duration = .seconds(30),
        logger: Logger = Logger(label: "cruddur-aws"),
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.configuration = configuration
        self.httpClient = httpClient
        self.timeout = timeout
        self.logger = logger
        self.now = now
    }

    /// How many times a read-only call is tried when AWS throttles it or fails with a 5xx.
    public static let attemptsForReads = 3

    /// Calls a Query-protocol action and returns the parsed XML response document.
    /// - Parameter readOnly: the action changes nothing (`Describe…`), so transient failures are retried with backoff.
    public func query(
        service: String, version: String, action: String, parameters: [(String, String)], readOnly: Bool = false
    ) async throws -> XMLTree {
        try await retrying(readOnly, service: service, action: action) {
            try await queryOnce(service: service, version: version, action: action, parameters: parameters)
        }
    }

    /// Calls a JSON 1.1 protocol action (`X-Amz-Target: <prefix>.<action>`) and returns the decoded object.
    /// - Parameter signed: false for the few actions a caller's own token authorises (Cognito's `GetUser`): no
    ///   credentials are needed or sent.
    public func json(
        service: String, targetPrefix: String, action: String, body: [String: String], readOnly: Bool = false, signed: Bool = true
    ) async throws -> [String: Any] {
        try await retrying(readOnly, service: service, action: action) {
            try await jsonOnce(service: service, targetPrefix: targetPrefix, action: action, body: body, signed: signed)
        }
    }

    private func retrying<Result>(_ readOnly: Bool, service: String, action: String, _ call: () async throws -> Result) async throws -> Result {
        var attempt = 1
        while true {
            do {
                return try await call()
            } catch let error as AWSError where readOnly && error.isTransient && attempt < Self.attemptsForReads {
                logger.debug("aws retry", metadata: ["service": "\(service)", "action": "\(action)", "attempt": "\(attempt)"])
                try await Task.sleep(for: .milliseconds(250 * (1 << (attempt - 1))))
                attempt += 1
            }
        }
    }

    private func queryOnce(service: String, version: String, action: String, parameters: [(String, String)]) async throws -> XMLTree {
        let body = AWSPercentEncoding.formBody([("Action", action), ("Version", version)] + parameters)
        let response = try await send(
            service: service, action: action, body: Array(body.utf8),
            headers: [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")]
        )
        guard let document = XMLTree.parse(Data(response.body)) else {
            if response.status >= 300 {
                throw AWSError.service(
                    .init(
                        service: service, action: action, code: "HTTP\(response.status)",
                        message: "the service answered HTTP \(response.status) without an error document",
                        requestId: response.requestId, httpStatus: response.status
                    ))
            }
            throw AWSError.unexpectedResponse(service: service, action: action, reason: "the body is not XML (HTTP \(response.status))")
        }
        guard response.status < 300 else {
            let error = document.first("Error")
            throw AWSError.service(
                .init(
                    service: service, action: action,
                    code: error?.string("Code") ?? "HTTP\(response.status)",
                    message: error?.string("Message") ?? "no message",
                    requestId: document.first("RequestId")?.text ?? document.first("RequestID")?.text ?? response.requestId,
                    httpStatus: response.status
                ))
        }
        return document
    }

    private func jsonOnce(service: String, targetPrefix: String, action: String, body: [String: String], signed: Bool) async throws -> [String: Any] {
        let payload = try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])
        let response = try await send(
            service: service, action: action, body: Array(payload),
            headers: [("Content-Type", "application/x-amz-json-1.1"), ("X-Amz-Target", "\(targetPrefix).\(action)")], signed: signed
        )
        let object = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any]
        guard response.status < 300 else {
            var code = (object?["__type"] as? String) ?? response.headers.first("x-amzn-ErrorType") ?? "HTTP\(response.status)"
            // `__type` may carry a namespace (`com.amazonaws…#Code`) and the header a suffix (`Code:http://…`).
            code = String(code.split(separator: "#").last ?? Substring(code))
            code = String(code.split(separator: ":").first ?? Substring(code))
            let message = (object?["message"] as? String) ?? (object?["Message"] as? String) ?? "no message"
            throw AWSError.service(
                .init(
                    service: service, action: action, code: code, message: message, requestId: response.requestId, httpStatus: response.status
                ))
        }
        guard let object else {
            throw AWSError.unexpectedResponse(service: service, action: action, reason: "the body is not a JSON object")
        }
        return object
    }

    struct RawResponse {
        let status: Int
        let headers: HTTPHeaders
        let body: [UInt8]
        var requestId: String? { headers.first(name: "x-amzn-RequestId") ?? headers.first(name: "x-amz-request-id") }
    }

    private func send(service: String, action: String, body: [UInt8], headers: [(String, String)], signed: Bool = true) async throws -> RawResponse {
        let endpoint = configuration.endpoint(for: service)
        guard let bareHost = endpoint.host else {
            throw AWSError.configuration("the endpoint \(endpoint) has no host")
        }
        let host = bareHost.contains(":") && !bareHost.hasPrefix("[") ? "[\(bareHost)]" : bareHost
        let scheme = endpoint.scheme?.lowercased() ?? "https"
        let hostHeader: String
        if let port = endpoint.port, !(scheme == "https" && port == 443), !(scheme == "http" && port == 80) {
            hostHeader = "\(host):\(port)"
        } else {
            hostHeader = host
        }
        let path = endpoint.path.isEmpty ? "/" : endpoint.path
        var toSign: [(name: String, value: String)] = [("Host", hostHeader)]
        toSign += headers.map { (name: $0.0, value: $0.1) }
        var signatureHeaders: [(name: String, value: String)] = []
        if signed, let credentials = try await configuration.currentCredentials() {
            let signer = SigV4Signer(credentials: credentials, region: configuration.region, service: service)
            signatureHeaders = signer.sign(method: "POST", path: path, headers: toSign, payload: body, date: now()).headers
        } else if signed {
            throw AWSError.configuration("\(service) \(action) needs AWS credentials and none are configured")
        }

        var request = HTTPClientRequest(url: "\(scheme)://\(hostHeader)\(path)")
        request.method = .POST
        for (name, value) in toSign + signatureHeaders {
            request.headers.replaceOrAdd(name: name, value: value)
        }
        request.headers.replaceOrAdd(name: "User-Agent", value: "cruddur")
        request.body = .bytes(ByteBuffer(bytes: body))

        logger.debug("aws request", metadata: ["service": "\(service)", "action": "\(action)", "endpoint": "\(endpoint.absoluteString)"])
        do {
            let response = try await httpClient.execute(request, timeout: .seconds(max(1, timeout.components.seconds)))
            let bytes = try await response.body.collect(upTo: 16 * 1024 * 1024)
            let status = Int(response.status.code)
            logger.debug("aws response", metadata: ["service": "\(service)", "action": "\(action)", "status": "\(status)"])
            return RawResponse(status: status, headers: response.headers, body: Array(buffer: bytes))
        } catch let error as AWSError {
            throw error
        } catch {
            throw AWSError.unreachable(service: service, action: action, endpoint: endpoint.absoluteString, reason: Self.describe(error))
        }
    }

    private static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout, .connectTimeout: return AWSError.noAnswerInTime
            case .remoteConnectionClosed: return "the connection was closed"
            default: return String(describing: error)
            }
        }
        return String(describing: error).split(whereSeparator: \.isNewline).joined(separator: " ")
    }
}

extension HTTPHeaders {
    fileprivate func first(_ name: String) -> String? { first(name: name) }
}
