import CruddurAPI
import CruddurDatabase
import CruddurDomain
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore

/// Builds the real application on a test database and runs `body` against it through the router.
func withTestApp<Value: Sendable>(
    database: ConnectionSettings,
    framework: TestingSetup = .router,
    configure: (inout APIConfiguration) -> Void = { _ in },
    _ body: @escaping @Sendable (any TestClientProtocol) async throws -> Value
) async throws -> Value {
    var configuration = APIConfiguration(host: "127.0.0.1", port: 0)
    // Checked on every post, never reached: the tests that post many times as one author pay its cost too.
    configuration.postRateLimit = PostRateLimit(posts: 1_000_000_000, windowSeconds: 3_600)
    configure(&configuration)
    let app = try buildApplication(configuration: configuration, database: database, logger: TestPostgres.logger)
    return try await app.test(framework) { client in
        try await body(client)
    }
}

extension TestResponse {
    /// The body as UTF-8 text.
    var text: String { String(buffer: body) }

    /// The body parsed as JSON.
    func json() throws -> Any {
        try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
    }
}

/// A JSON request body.
func jsonBody(_ object: [String: Any]) -> ByteBuffer {
    ByteBuffer(bytes: try! JSONSerialization.data(withJSONObject: object))
}
