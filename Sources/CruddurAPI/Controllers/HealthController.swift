import CruddurDatabase
import Hummingbird

/// `GET /api/health` (readiness): `200` when the database answers, `503` when it does not. `GET /api/health/live`
/// (liveness): `200` whenever the process serves HTTP, with no database call, so a database failover never makes a
/// container orchestrator kill every server.
struct HealthController<Context: RequestContext>: Sendable {
    let users: UserRepository
    /// Overlapping checks share one `SELECT 1`, each answered by one that started after it arrived.
    let probes = ReadCoalescer<DatabaseProbe, Void>()

    enum DatabaseProbe: Hashable, Sendable { case ping }

    func addRoutes(to group: RouterGroup<Context>) {
        group.get(use: health)
        group.get("live", use: live)
    }

    @Sendable func live(_ request: Request, context: Context) async throws -> Response {
        Response(
            status: .ok,
            headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: #"{"status":"ok"}"#))
        )
    }

    @Sendable func health(_ request: Request, context: Context) async throws -> Response {
        do {
            try await probes.value(for: .ping) { try await users.ping() }
        } catch {
            context.logger.warning("Health check failed", metadata: ["error": "\(error)"])
            throw APIError.databaseUnavailable
        }
        return Response(
            status: .ok,
            headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: #"{"status":"ok","database":"ok"}"#))
        )
    }
}
