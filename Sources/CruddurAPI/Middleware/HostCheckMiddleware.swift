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
    static func hostName(ofAuthority authority: String) -> String? {
        var host: Substring
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = authority[...close]
            let rest = authority[authority.index(after: close)...]
            guard rest.isEmpty || (rest.first == ":" && rest.dropFirst().allSatisfy(\.isASCIIDigit)) else { return nil }
        } else {
            let parts = authority.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            host = parts[0]
            if parts.count == 2, !parts[1].allSatisfy(\.isASCIIDigit) { return nil }
        }
        if host.hasSuffix(".") { host = host.dropLast() }
        return host.isEmpty ? nil : host.lowercased()
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
