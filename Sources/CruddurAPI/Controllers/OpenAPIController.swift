import Hummingbird

/// `GET /api/openapi.json`: the API's OpenAPI document.
struct OpenAPIController<Context: RequestContext>: Sendable {
    let document: OpenAPIDocument

    func addRoutes(to group: RouterGroup<Context>) {
        group.get("openapi.json", use: openAPIDocument)
    }

    @Sendable func openAPIDocument(_ request: Request, context: Context) async throws -> Response {
        Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: document.body))
    }
}
