import CruddurDatabase
import CruddurDomain
import Foundation
import Hummingbird
import HummingbirdTesting
import PostgresNIO
import Testing

@testable import CruddurAPI

/// The OpenAPI document (`Sources/CruddurAPI/OpenAPI/openapi.json`) stays true: it is valid OpenAPI 3.1, the server
/// serves it byte for byte, and its operations are exactly the routes the router registers.
@Suite("OpenAPI document")
struct OpenAPIDocumentTests {
    static let file = packageDirectory + "/Sources/CruddurAPI/OpenAPI/openapi.json"

    static func document() throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: file))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// Every documented operation as `METHOD /path/{parameter}`.
    static func documentedOperations() throws -> Set<String> {
        let paths = try #require(try document()["paths"] as? [String: [String: Any]])
        let methods: Set<String> = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]
        var operations: Set<String> = []
        for (path, item) in paths {
            for method in item.keys where methods.contains(method) {
                operations.insert("\(method.uppercased()) \(path)")
            }
        }
        return operations
    }

    /// Every registered route in the document's notation (`METHOD /path/{parameter}`).
    static func registeredRoutes() throws -> Set<String> {
        let pool = try DatabasePool(
            settings: ConnectionSettings(endpoint: .tcp(host: "127.0.0.1", port: 9), username: "unused", password: nil, database: "unused"),
            size: 1, logger: TestPostgres.logger
        )
        let router = buildRouter(
            configuration: APIConfiguration(), activities: ActivityRepository(pool: pool, logger: TestPostgres.logger),
            users: UserRepository(pool: pool, logger: TestPostgres.logger), authors: ActivityAuthorResolver(verifier: nil),
            web: try WebAssets.bundled(), document: try OpenAPIDocument.bundled()
        )
        var routes: Set<String> = []
        for route in router.routes {
            // Hummingbird writes a capture as `{name}`, as OpenAPI does; a wildcard has no OpenAPI form.
            let path = route.path.description
            guard !path.contains("*") else { throw UndocumentablePath(path: path) }
            routes.insert("\(route.method.rawValue) \(path)")
        }
        return routes
    }

    struct UndocumentablePath: Error, CustomStringConvertible {
        let path: String
        var description: String { "the route \(path) uses a wildcard, which the OpenAPI document cannot describe" }
    }

    @Test("every route the router registers is documented, and every documented operation is a route")
    func routesMatchDocument() throws {
        let routes = try Self.registeredRoutes()
        let documented = try Self.documentedOperations()
        #expect(routes.subtracting(documented).isEmpty, "routes missing from openapi.json: \(routes.subtracting(documented).sorted())")
        #expect(documented.subtracting(routes).isEmpty, "documented but not routed: \(documented.subtracting(routes).sorted())")
        #expect(routes.contains("POST /api/activities") && routes.contains("GET /assets/{name}"))
    }

    @Test("openapi-spec-validator accepts the document as OpenAPI 3.1")
    func validDocument() async throws {
        let validator = packageDirectory + "/.venv/bin/openapi-spec-validator"
        #expect(FileManager.default.isExecutableFile(atPath: validator), "run scripts/bootstrap --tests, which installs it into .venv")
        let child = try ChildProcess(validator, [Self.file], environment: cleanEnvironment())
        let status = await child.waitForExit(timeout: .seconds(60))
        #expect(status == 0, "\(child.output)")
        #expect(child.output.contains("OK"), "\(child.output)")
        #expect(try Self.document()["openapi"] as? String == "3.1.0")
    }

    @Test("the document's version, TTLs and validation codes are the server's own")
    func documentMatchesDomain() throws {
        let document = try Self.document()
        #expect((document["info"] as? [String: Any])?["version"] as? String == CruddurRelease.version)
        let schemas = try #require((document["components"] as? [String: Any])?["schemas"] as? [String: [String: Any]])
        #expect(schemas["TimeToLive"]?["enum"] as? [String] == TimeToLive.allCases.map(\.rawValue))
        #expect(schemas["ValidationErrorCode"]?["enum"] as? [String] == ActivityValidationError.allCases.map(\.rawValue))
        let errorCodes = Set(try #require(schemas["ErrorCode"]?["enum"] as? [String]))
        // The codes the middleware gives plain HTTP errors, and the ones the tests see elsewhere.
        for status in [HTTPResponse.Status.notFound, .methodNotAllowed, .contentTooLarge, .unsupportedMediaType, .badRequest, .gone, .badGateway] {
            #expect(errorCodes.contains(JSONErrorMiddleware<AppRequestContext>.code(for: status)), "\(status)")
        }
        #expect(errorCodes.contains(APIError.databaseUnavailable.code))
    }

    @Test("GET /api/openapi.json serves the repository's file byte for byte, as JSON")
    func served() async throws {
        let database = try await TestPostgres.shared.makeDatabase()
        let expected = try Data(contentsOf: URL(fileURLWithPath: Self.file))
        try await withTestApp(database: database) { client in
            try await client.execute(uri: "/api/openapi.json", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/json; charset=utf-8")
                #expect(Data(response.body.readableBytesView) == expected)
            }
            try await client.execute(uri: "/api/openapi.json", method: .post) { response in
                #expect(response.status == .methodNotAllowed)
                #expect(response.headers[.allow] == "GET, HEAD")
            }
        }
    }
}

/// schemathesis (pinned in Tests/python-requirements.txt) fuzzes a real `cruddur serve` in local development mode on a
/// throwaway seeded database, with the repository's `schemathesis.toml`: every generated request must get an answer
/// the document allows, never a 5xx, and the users table must not change.
@Suite("schemathesis against cruddur serve", .serialized)
struct SchemathesisTests {
    static func usersSnapshot(_ database: ConnectionSettings) async throws -> String {
        try await withTestConnection(database) { connection in
            let rows = try await connection.query(
                "SELECT count(*)::text || ':' || coalesce(md5(string_agg(u::text, ',' ORDER BY u.uuid)), '') FROM public.users u",
                logger: TestPostgres.logger
            ).collect()
            return try rows[0].decode(String.self)
        }
    }

    @Test("st run --checks all --mode all finds nothing, and the users table is unchanged")
    func fuzz() async throws {
        let schemathesis = packageDirectory + "/.venv/bin/st"
        #expect(FileManager.default.isExecutableFile(atPath: schemathesis), "run scripts/bootstrap --tests, which installs it into .venv")
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        let usersBefore = try await Self.usersSnapshot(database)
        let local = try await LocalServer.start(database: database, environment: ["LOG_LEVEL": "error", "ACCESS_LOG": "off"])
        let server = local.process
        defer { server.signal(SIGTERM) }
        let base = local.base

        let run = try ChildProcess(
            schemathesis, ["run", "--checks", "all", "--mode", "all", "--no-color", base + "/api/openapi.json"],
            environment: cleanEnvironment(["NO_COLOR": "1", "SCHEMATHESIS_TELEMETRY": "false"]), directory: packageDirectory
        )
        let status = await run.waitForExit(timeout: .seconds(900))
        if status == nil { run.signal(SIGKILL) }
        let output = run.output
        #expect(status == 0, "\(output)")
        #expect(output.contains("Configuration:") && output.contains("schemathesis.toml"), "the run must use the repository's settings: \(output)")
        #expect(output.contains("No issues found"), "\(output)")
        // The run's summary line, for the log of the README's test command.
        if let summary = output.split(separator: "\n").first(where: { $0.contains("generated,") }) {
            print("schemathesis: \(summary.trimmingCharacters(in: .whitespaces))")
        }
        #expect(!server.output.contains("Request failed"), "\(server.output)")
        #expect(try await Self.usersSnapshot(database) == usersBefore)
        // The document's example post (by the seed user bayko) went through: the 200 path was fuzzed too.
        let posted = try await withTestConnection(database) { connection in
            let rows = try await connection.query("SELECT count(*)::int8 FROM public.activities", logger: TestPostgres.logger).collect()
            return try rows[0].decode(Int64.self)
        }
        #expect(posted > 1)
    }
}
