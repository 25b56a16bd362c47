import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// A client of the Lambda Runtime API (`AWS_LAMBDA_RUNTIME_API`, version 2018-06-01), over plain HTTP/1.1.
///
/// One short connection per call: the API is on loopback, and a fresh connection survives the environment
/// being frozen between invocations.
public struct RuntimeAPIClient: Sendable {
    /// One event to handle.
    public struct Invocation: Sendable {
        public let requestID: String
        public let deadline: Date?
        public let body: [UInt8]
    }

    /// The largest event or error body accepted (Lambda's own limit on a synchronous payload).
    static let maximumBodySize = 6 * 1024 * 1024
    static let basePath = "/2018-06-01/runtime"

    public let host: String
    public let port: Int
    let group: any EventLoopGroup

    /// `endpoint` is `host:port`, as `AWS_LAMBDA_RUNTIME_API` gives it.
    public init(endpoint: String, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) throws(RuntimeAPIError) {
        guard let colon = endpoint.lastIndex(of: ":"), let port = Int(endpoint[endpoint.index(after: colon)...]), (1...65535).contains(port) else {
            throw .invalidEndpoint(endpoint)
        }
        var host = String(endpoint[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, host.allSatisfy({ $0.isLetter || $0.isNumber || ".-:".contains($0) }) else {
            throw .invalidEndpoint(endpoint)
        }
        self.host = host
        self.port = port
        self.group = group
    }

    /// Waits for the next event (the call blocks until Lambda has one).
    public func next() async throws(RuntimeAPIError) -> Invocation {
        let response: Response
        do {
            response = try await exchange(.GET, "\(Self.basePath)/invocation/next", body: nil)
        } catch .connectionFailed {
            // Asking for the next event is safe to repeat: one more try on a new connection.
            response = try await exchange(.GET, "\(Self.basePath)/invocation/next", body: nil)
        }
        guard response.status == .ok else { throw .unexpectedStatus(call: "next", status: Int(response.status.code)) }
        guard let requestID = response.headers.first(name: "Lambda-Runtime-Aws-Request-Id"), Self.isRequestID(requestID) else {
            throw .missingRequestID
        }
        let deadline = response.headers.first(name: "Lambda-Runtime-Deadline-Ms")
            .flatMap(Int64.init)
            .map { Date(timeIntervalSince1970: Double($0) / 1000) }
        return Invocation(requestID: requestID, deadline: deadline, body: response.body)
    }

    /// Sends an invocation's result.
    public func respond(requestID: String, body: [UInt8]) async throws(RuntimeAPIError) {
        try await post("response", "\(Self.basePath)/invocation/\(requestID)/response", body: body)
    }

    /// Reports an invocation's failure.
    public func reportError(requestID: String, _ error: LambdaFunctionError) async throws(RuntimeAPIError) {
        try await post("error", "\(Self.basePath)/invocation/\(requestID)/error", body: Self.errorBody(error), errorType: error.errorType)
    }

    /// Reports that the function cannot start; Lambda then fails the invocation and restarts the environment.
    public func reportInitError(_ error: LambdaFunctionError) async throws(RuntimeAPIError) {
        try await post("init/error", "\(Self.basePath)/init/error", body: Self.errorBody(error), errorType: error.errorType)
    }

    /// `{"errorMessage": …, "errorType": …}`, as Lambda expects it.
    static func errorBody(_ error: LambdaFunctionError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let payload = ["errorMessage": error.errorMessage, "errorType": error.errorType]
        return Array((try? encoder.encode(payload)) ?? Data(#"{"errorType":"Cruddur.InternalError"}"#.utf8))
    }

    /// Request ids go into URL paths: letters, digits and dashes only.
    static func isRequestID(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 128
            && text.utf8.allSatisfy { (48...57).contains($0) || (65...90).contains($0) || (97...122).contains($0) || $0 == UInt8(ascii: "-") }
    }

    private func post(_ call: String, _ path: String, body: [UInt8], errorType: String? = nil) async throws(RuntimeAPIError) {
        var headers: [(String, String)] = [("Content-Type", "application/json")]
        if let errorType { headers.append(("Lambda-Runtime-Function-Error-Type", errorType)) }
        let response = try await exchange(.POST, path, body: body, headers: headers)
        guard (200..<300).contains(Int(response.status.code)) else {
            throw .unexpectedStatus(call: call, status: Int(response.status.code))
        }
    }

    struct Response {
        var status: HTTPResponseStatus
        var headers: HTTPHeaders
        var body: [UInt8]
    }

    /// One request and its response on a new connection.
    private func exchange(
        _ method: HTTPMethod, _ path: String, body: [UInt8]?, headers extra: [(String, String)] = []
    ) async throws(RuntimeAPIError) -> Response {
        var head = HTTPRequestHead(version: .http1_1, method: method, uri: path)
        head.headers.add(name: "Host", value: port == 80 ? host : "\(host):\(port)")
        head.headers.add(name: "User-Agent", value: "cruddur-post-confirmation")
        head.headers.add(name: "Connection", value: "close")
        for (name, value) in extra { head.headers.add(name: name, value: value) }
        if let body { head.headers.add(name: "Content-Length", value: String(body.count)) }
        do {
            let channel = try await ClientBootstrap(group: group)
                .connectTimeout(.seconds(2))
                .connect(host: host, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                    }
                }
            return try await channel.executeThenClose { inbound, outbound in
                // One write: the API may answer (and close) as soon as it has the head of a GET, and a second
                // write would then fail on the closed channel although the answer is there to read.
                var parts: [HTTPClientRequestPart] = [.head(head)]
                if let body { parts.append(.body(.byteBuffer(ByteBuffer(bytes: body)))) }
                parts.append(.end(nil))
                try await outbound.write(contentsOf: parts)
                var response: Response?
                for try await part in inbound {
                    switch part {
                    case .head(let responseHead):
                        response = Response(status: responseHead.status, headers: responseHead.headers, body: [])
                    case .body(var buffer):
                        guard (response?.body.count ?? 0) + buffer.readableBytes <= Self.maximumBodySize else {
                            throw RuntimeAPIError.bodyTooLarge
                        }
                        response?.body += buffer.readBytes(length: buffer.readableBytes) ?? []
                    case .end:
                        guard let response else { throw RuntimeAPIError.connectionFailed("the response had no head") }
                        return response
                    }
                }
                throw RuntimeAPIError.connectionFailed("the connection closed before the response ended")
            }
        } catch let error as RuntimeAPIError {
            throw error
        } catch {
            throw .connectionFailed(String(describing: error))
        }
    }
}

/// The Runtime API could not be used.
public enum RuntimeAPIError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidEndpoint(String)
    case connectionFailed(String)
    case unexpectedStatus(call: String, status: Int)
    case missingRequestID
    case bodyTooLarge

    public var description: String {
        switch self {
        case .invalidEndpoint(let endpoint): "AWS_LAMBDA_RUNTIME_API '\(endpoint)' is not host:port"
        case .connectionFailed(let reason): "cannot talk to the Lambda Runtime API: \(reason)"
        case .unexpectedStatus(let call, let status): "the Lambda Runtime API answered \(call) with HTTP \(status)"
        case .missingRequestID: "the Lambda Runtime API sent an event without a valid Lambda-Runtime-Aws-Request-Id"
        case .bodyTooLarge: "the Lambda Runtime API sent a body over 6 MiB"
        }
    }
}
