import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// `/` and `/assets/<name>`: the web page, from memory, with strict security and revalidation headers.
struct WebController<Context: RequestContext>: Sendable {
    /// Everything from this origin only; no inline script or style, no plugins, no framing.
    static var contentSecurityPolicy: String {
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
            + "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    }

    /// Browsers keep the files but ask each time whether they changed; an unchanged file is a bodyless `304`.
    static var cacheControl: String { "no-cache" }

    let assets: WebAssets

    func addRoutes(to router: Router<Context>) {
        router.get("/", use: page)
        router.get("assets/:name", use: asset)
    }

    @Sendable func page(_ request: Request, context: Context) async throws -> Response {
        serve(assets.index, for: request)
    }

    @Sendable func asset(_ request: Request, context: Context) async throws -> Response {
        guard let name = context.parameters.get("name"), let asset = assets.asset(named: name) else {
            throw HTTPError(.notFound)
        }
        return serve(asset, for: request)
    }

    func serve(_ asset: WebAsset, for request: Request) -> Response {
        var headers: HTTPFields = [
            .contentType: asset.contentType,
            .cacheControl: Self.cacheControl,
            .eTag: asset.eTag,
            .contentSecurityPolicy: Self.contentSecurityPolicy,
            .xContentTypeOptions: "nosniff",
            .referrerPolicy: "no-referrer",
        ]
        if Self.matches(request.headers[values: .ifNoneMatch], eTag: asset.eTag) {
            return Response(status: .notModified, headers: headers)
        }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: asset.body))
    }

    /// `If-None-Match` (RFC 9110 §13.1.2): `*`, or a list of entity tags compared weakly.
    static func matches(_ fieldValues: [String], eTag: String) -> Bool {
        let opaque = eTag.hasPrefix("W/") ? String(eTag.dropFirst(2)) : eTag
        for value in fieldValues {
            for candidate in value.split(separator: ",") {
                let tag = candidate.trimmingCharacters(in: .whitespaces)
                if tag == "*" { return true }
                let candidateOpaque = tag.hasPrefix("W/") ? tag.dropFirst(2) : Substring(tag)
                if candidateOpaque == opaque { return true }
            }
        }
        return false
    }
}
