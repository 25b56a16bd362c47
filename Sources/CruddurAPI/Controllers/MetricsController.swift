import CruddurDatabase
import CruddurTracing
import Hummingbird
import NIOCore

/// The Prometheus endpoint, `GET /metrics`, on its own listener (`METRICS_PORT`), never the API's port.
struct MetricsController<Context: RequestContext>: Sendable {
    let metrics: ServerMetrics
    let pool: DatabasePool
    let accessLog: AccessLog?
    let traceExport: TraceExport?

    func addRoutes(to router: Router<Context>) {
        router.get("metrics", use: scrape)
    }

    @Sendable func scrape(_ request: Request, context: Context) async throws -> Response {
        let body = metrics.scrape(pool: pool.statistics, accessLogDropped: accessLog?.droppedCount, traceExport: traceExport?.statistics)
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}
