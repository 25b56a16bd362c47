import CruddurDatabase
import Hummingbird

/// `GET /api/health`: `200` when the database answers, `503` when it does not.
struct HealthController<Context: RequestContext>: Sendable {
    let users: UserRepository

    func addRoutes(to group: RouterGroup<Context>) {
        group.get(use: health)
    }

    @Sendable func health(_ request: Request, context: Context) async throws -> Response {
        do {
            try await users.ping()
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
