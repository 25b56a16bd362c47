import AsyncHTTPClient
import CruddurDomain
import Foundation
import NIOConcurrencyHelpers
import NIOCore

/// The task role's credentials on ECS (and EKS Pod Identity), from the container credentials endpoint the agent runs:
/// `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` (at `http://169.254.170.2`) or `AWS_CONTAINER_CREDENTIALS_FULL_URI`, with
/// the `Authorization` header from `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` (read at each fetch) or
/// `AWS_CONTAINER_AUTHORIZATION_TOKEN`.
///
/// Credentials are fetched on first use and again when they have less than 5 minutes left; a fetch that fails is
/// retried twice within a few seconds.
public final class ContainerCredentialsProvider: Sendable {
    /// The ECS agent's address for relative URIs.
    public static let ecsHost = "169.254.170.2"
    /// Hosts plain http is allowed to besides loopback: the ECS and EKS agents.
    static let containerHosts: Set<String> = ["169.254.170.2", "169.254.170.23", "fd00:ec2::23", "[fd00:ec2::23]"]
    /// Credentials this close to their expiry are fetched again.
    static let refreshMargin: TimeInterval = 300

    public let url: URL
    private let authorization: Authorization?
    private let httpClient: HTTPClient
    private let timeout: Duration
    private let now: @Sendable () -> Date
    private let cached = NIOLockedValueBox<(credentials: AWSCredentials, expiration: Date?)?>(nil)

    enum Authorization: Sendable {
        case token(String)
        case file(String)
    }

    /// The provider the environment asks for, nil when it names no container endpoint.
    public static func fromEnvironment(
        _ environment: [String: String], httpClient: HTTPClient = .shared, timeout: Duration = .seconds(2),
        now: @escaping @Sendable () -> Date = { Date() }
    ) throws -> ContainerCredentialsProvider? {
        func variable(_ name: String) -> String? {
            environment[name].flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : $0 }
        }
        let url: URL
        if let relative = variable("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") {
            guard relative.hasPrefix("/"), let parsed = URL(string: "http://\(ecsHost)\(relative)"), parsed.host == ecsHost else {
                throw AWSError.configuration("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI must be a path starting with /")
            }
            url = parsed
        } else if let full = variable("AWS_CONTAINER_CREDENTIALS_FULL_URI") {
            guard let parsed = URL(string: full), let scheme = parsed.scheme?.lowercased(), scheme == "http" || scheme == "https",
                let host = parsed.host, !host.isEmpty, parsed.user == nil, parsed.password == nil
            else {
                throw AWSError.configuration("AWS_CONTAINER_CREDENTIALS_FULL_URI must be an http(s) URL with a host and no user")
            }
            guard scheme == "https" || LoopbackHost.allowsPlainHTTP(scheme: scheme, host: host) || containerHosts.contains(host) else {
                throw AWSError.configuration(
                    "AWS_CONTAINER_CREDENTIALS_FULL_URI must be https, or http to a loopback address or the ECS/EKS agent (\(ecsHost), 169.254.170.23)"
                )
            }
            url = parsed
        } else {
            return nil
        }
        let authorization: Authorization?
        if let file = variable("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE") {
            authorization = .file(file)
        } else if let token = variable("AWS_CONTAINER_AUTHORIZATION_TOKEN") {
            try checkToken(token)
            authorization = .token(token)
        } else {
            authorization = nil
        }
        return ContainerCredentialsProvider(url: url, authorization: authorization, httpClient: httpClient, timeout: timeout, now: now)
    }

    init(url: URL, authorization: Authorization?, httpClient: HTTPClient, timeout: Duration, now: @escaping @Sendable () -> Date) {
        self.url = url
        self.authorization = authorization
        self.httpClient = httpClient
        self.timeout = timeout
        self.now = now
    }

    /// Current credentials: the cached ones while they have more than 5 minutes left, else fetched.
    public func credentials() async throws -> AWSCredentials {
        if let cached = cached.withLockedValue({ $0 }), cached.expiration.map({ $0.timeIntervalSince(now()) > Self.refreshMargin }) ?? true {
            return cached.credentials
        }
        var attempt = 1
        while true {
            do {
                let fetched = try await fetch()
                cached.withLockedValue { $0 = fetched }
                return fetched.credentials
            } catch let error as AWSError where attempt < 3 && error.mayPassOnRetry {
                try await Task.sleep(for: .milliseconds(200 * attempt))
                attempt += 1
            }
        }
    }

    private func fetch() async throws -> (credentials: AWSCredentials, expiration: Date?) {
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = .GET
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "cruddur")
        switch authorization {
        case .token(let token):
            request.headers.add(name: "Authorization", value: token)
        case .file(let path):
            request.headers.add(name: "Authorization", value: try Self.readToken(path))
        case nil:
            break
        }
        let status: Int
        let body: ByteBuffer
        do {
            let response = try await httpClient.execute(request, timeout: .seconds(max(1, timeout.components.seconds)))
            status = Int(response.status.code)
            body = try await response.body.collect(upTo: 64 * 1024)
        } catch {
            throw AWSError.unreachable(
                service: "container credentials", action: "GET", endpoint: Self.redacted(url), reason: String(describing: error))
        }
        guard status == 200 else {
            throw AWSError.service(
                .init(
                    service: "container credentials", action: "GET", code: "HTTP\(status)",
                    message: status == 401 || status == 403
                        ? "the endpoint refused the authorization token" : "the endpoint answered HTTP \(status)",
                    requestId: nil, httpStatus: status))
        }
        return try Self.parse(Array(buffer: body))
    }

    /// The endpoint's answer: `AccessKeyId`, `SecretAccessKey`, `Token` and `Expiration` (ISO 8601).
    static func parse(_ body: [UInt8]) throws -> (credentials: AWSCredentials, expiration: Date?) {
        func malformed(_ reason: String) -> AWSError {
            AWSError.unexpectedResponse(service: "container credentials", action: "GET", reason: reason)
        }
        guard let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] else {
            throw malformed("the answer is not a JSON object")
        }
        guard let accessKey = object["AccessKeyId"] as? String, !accessKey.isEmpty,
            let secretKey = object["SecretAccessKey"] as? String, !secretKey.isEmpty
        else {
            throw malformed("the answer has no AccessKeyId and SecretAccessKey")
        }
        var expiration: Date?
        if let text = object["Expiration"] as? String {
            guard let parsed = parseISO8601(text) else { throw malformed("Expiration is not an ISO 8601 time") }
            expiration = parsed
        }
        let token = (object["Token"] as? String).flatMap { $0.isEmpty ? nil : $0 }
        return (
            AWSCredentials(accessKeyId: accessKey, secretAccessKey: secretKey, sessionToken: token, source: "the container credentials endpoint"),
            expiration
        )
    }

    static func parseISO8601(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)
    }

    static func readToken(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path), data.count <= 16 * 1024,
            let text = String(data: data, encoding: .utf8)
        else {
            throw AWSError.configuration("cannot read the container authorization token from AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (\(path))")
        }
        let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
        try checkToken(token)
        return token
    }

    /// A token becomes a header value: no line breaks or other control characters.
    static func checkToken(_ token: String) throws {
        guard !token.isEmpty, !token.unicodeScalars.contains(where: { CharacterSet.controlCharacters.contains($0) }) else {
            throw AWSError.configuration("the container authorization token must be one line without control characters")
        }
    }

    /// The endpoint without its query (which may carry a credential of its own), for messages.
    static func redacted(_ url: URL) -> String {
        var components = URLComponents(url: url, resolvingAgainstBaseURL: false)
        components?.query = nil
        return components?.string ?? "the container credentials endpoint"
    }
}

extension AWSError {
    /// An unreachable endpoint or its 5xx may pass; a refusal or a malformed answer will not.
    fileprivate var mayPassOnRetry: Bool {
        switch self {
        case .unreachable: true
        case .service(let error): error.httpStatus >= 500
        case .unexpectedResponse, .configuration: false
        }
    }
}
