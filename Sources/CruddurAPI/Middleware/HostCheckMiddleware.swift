import CruddurDomain
import HTTPTypes
import Hummingbird

/// Answers `421` to a request whose `Host` names a server this one does not know it is.
///
/// In local development mode (writes trusted by handle) this defeats DNS rebinding: a web page on another site
/// whose name an attacker re-points at 127.0.0.1 still sends its own name as `Host`. Loopback names and addresses
/// are always accepted; `ALLOWED_HOSTS` adds others.
struct HostCheckMiddleware<Context: RequestContext>: RouterMiddleware {
    /// The accepted host names beyond loopback (lowercased, no port).
    let allowedHosts: Set<String>

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let host = request.head.authority.flatMap(Self.hostName(ofAuthority:)),
            LoopbackHost.contains(host) || allowedHosts.contains(host)
        else {
            throw APIError(
                .misdirectedRequest, code: "host_not_allowed",
                message: "This server does not answer for that Host; list it in ALLOWED_HOSTS to allow it."
            )
        }
        return try await next(request, context)
    }

    /// The host of `Host`'s value (`name`, `name:port`, `[v6]` or `[v6]:port`), lowercased without a trailing dot.
    /// Works on the UTF-8 bytes: it runs on every request.
    static func hostName(ofAuthority authority: String) -> String? {
        let bytes = authority.utf8
        let hostEnd: String.Index
        var port: Substring.UTF8View?
        if bytes.first == UInt8(ascii: "[") {
            guard let close = bytes.firstIndex(of: UInt8(ascii: "]")) else { return nil }
            hostEnd = bytes.index(after: close)
            if hostEnd != bytes.endIndex {
                guard bytes[hostEnd] == UInt8(ascii: ":") else { return nil }
                port = authority[bytes.index(after: hostEnd)...].utf8
            }
        } else if let colon = bytes.firstIndex(of: UInt8(ascii: ":")) {
            hostEnd = colon
            port = authority[bytes.index(after: colon)...].utf8
        } else {
            hostEnd = bytes.endIndex
        }
        if let port, !port.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) { return nil }
        var host = authority[..<hostEnd]
        if host.utf8.last == UInt8(ascii: ".") { host = host.dropLast() }
        return host.isEmpty ? nil : host.lowercased()
    }
}
