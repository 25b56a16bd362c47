import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore

/// `cruddur health [--url U] [--ready]`: exits 0 when the server's liveness (or, with `--ready`, readiness) answers
/// `200` within 2 s; for container health checks (liveness) and load balancers (readiness).
struct HealthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health",
        abstract: "Check a running server: exit 0 when its liveness (or, with --ready, readiness) answers 200 within 2 s.",
        discussion: """
            Liveness (GET /api/health/live) answers whenever the process serves HTTP; readiness (GET /api/health) \
            also needs the database. Container health checks should use liveness, load balancers readiness.
            """
    )

    @Option(help: ArgumentHelp("The server's base URL (default: http://127.0.0.1:$PORT, PORT defaulting to 4567).", valueName: "url"))
    var url: String?

    @Flag(help: "Check readiness (the database answers) instead of liveness.")
    var ready = false

    /// The base URL to check, from `--url` or `PORT`.
    func baseURL(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> URL {
        let text = url ?? "http://127.0.0.1:\(environment["PORT"].flatMap { $0.isEmpty ? nil : $0 } ?? "4567")"
        guard let parsed = URL(string: text), let scheme = parsed.scheme, ["http", "https"].contains(scheme), parsed.host != nil,
            parsed.query == nil, parsed.user == nil
        else {
            throw ValidationError("--url '\(text.prefix(200))' is not an http(s) base URL like http://127.0.0.1:4567 (PORT must be a port number)")
        }
        return parsed
    }

    func validate() throws {
        _ = try baseURL()
    }

    func run() async throws {
        let base = try baseURL()
        let path = ready ? "/api/health" : "/api/health/live"
        let target = base.absoluteString.hasSuffix("/") ? String(base.absoluteString.dropLast()) + path : base.absoluteString + path
        try await reportingFailures {
            var configuration = HTTPClient.Configuration()
            configuration.timeout = .init(connect: .seconds(2), read: .seconds(2))
            configuration.connectionPool.retryConnectionEstablishment = false
            configuration.redirectConfiguration = .disallow
            let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
            let status: UInt
            do {
                let response = try await client.execute(HTTPClientRequest(url: target), timeout: .seconds(2))
                _ = try await response.body.collect(upTo: 64 * 1024)
                status = response.status.code
            } catch {
                try? await client.shutdown()
                throw CommandFailure("\(target) did not answer within 2 s (\(oneLine(error)))")
            }
            try? await client.shutdown()
            guard status == 200 else {
                throw CommandFailure("\(target) answered \(status)")
            }
            print("\(target) answered 200")
        }
    }
}
