import CruddurAPI
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@Suite("Web page: the static routes, their headers, revalidation and refusals", .serialized)
struct WebPageTests {
    static let contentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        + "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

    /// The files as they are in the repository, to compare with what is served.
    static func sourceFile(_ name: String) throws -> String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        return try String(contentsOf: root.appendingPathComponent("Sources/CruddurAPI/Web/Public/\(name)"), encoding: .utf8)
    }

    @Test("GET / is the page: HTML, strict CSP, nosniff, revalidation headers")
    func page() async throws {
        let database = try await TestPostgres.shared.makeDatabase()
        try await withTestApp(database: database) { client in
            try await client.execute(uri: "/", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "text/html; charset=utf-8")
                #expect(response.headers[.contentSecurityPolicy] == Self.contentSecurityPolicy)
                #expect(response.headers[.xContentTypeOptions] == "nosniff")
                #expect(response.headers[.cacheControl] == "no-cache")
                #expect(response.headers[HTTPField.Name("Referrer-Policy")!] == "no-referrer")
                let eTag = try #require(response.headers[.eTag])
                #expect(eTag.hasPrefix("\"sha256-") && eTag.hasSuffix("\""))
                #expect(response.text == (try Self.sourceFile("index.html")))
                #expect(response.text.contains(#"<script src="/assets/app.js" defer></script>"#))
                #expect(response.text.contains(#"<link rel="stylesheet" href="/assets/app.css">"#))
            }
        }
    }

    @Test("the page works under its CSP: no inline script, style or event handler; the script never builds HTML")
    func noInlineCode() throws {
        let html = try Self.sourceFile("index.html")
        #expect(html.ranges(of: "<script").count == html.ranges(of: "<script src=").count)
        #expect(!html.contains("<style"))
        #expect(html.firstMatch(of: /\s(on[a-z]+|style)\s*=/) == nil)
        let script = try Self.sourceFile("app.js")
        for forbidden in ["eval(", "new Function", "innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", ".setAttribute('style'"] {
            #expect(!script.contains(forbidden), "app.js uses \(forbidden)")
        }
        #expect(script.contains("[...text].length"), "the counter counts code points")
    }

    @Test(
        "each asset has its content type and the same security headers",
        arguments: [
            ("app.css", "text/css; charset=utf-8"),
            ("app.js", "text/javascript; charset=utf-8"),
            ("icon.svg", "image/svg+xml"),
        ])
    func assets(name: String, contentType: String) async throws {
        let database = try await TestPostgres.shared.makeDatabase()
        let source = try Self.sourceFile(name)
        try await withTestApp(database: database) { client in
            try await client.execute(uri: "/assets/\(name)", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == contentType)
                #expect(response.headers[.contentSecurityPolicy] == Self.contentSecurityPolicy)
                #expect(response.headers[.xContentTypeOptions] == "nosniff")
                #expect(response.headers[.cacheControl] == "no-cache")
                #expect(response.headers[.eTag] != nil)
                #expect(response.text == source)
            }
        }
    }

    @Test("If-None-Match with the current ETag is a bodyless 304; another ETag gets the file")
    func revalidation() async throws {
        let database = try await TestPostgres.shared.makeDatabase()
        try await withTestApp(database: database) { client in
            for path in ["/", "/assets/app.js", "/assets/app.css"] {
                let eTag = try await client.execute(uri: path, method: .get) { try #require($0.headers[.eTag]) }
                for condition in [eTag, "W/\(eTag)", "\"stale\", \(eTag)", "*"] {
                    try await client.execute(uri: path, method: .get, headers: [.ifNoneMatch: condition]) { response in
                        #expect(response.status == .notModified, "\(path) with If-None-Match: \(condition)")
                        #expect(response.body.readableBytes == 0)
                        #expect(response.headers[.eTag] == eTag)
                        #expect(response.headers[.cacheControl] == "no-cache")
                    }
                }
                try await client.execute(uri: path, method: .get, headers: [.ifNoneMatch: "\"sha256-00000000\""]) { response in
                    #expect(response.status == .ok)
                    #expect(response.body.readableBytes > 0)
                }
            }
            let css = try await client.execute(uri: "/assets/app.css", method: .get) { try #require($0.headers[.eTag]) }
            let js = try await client.execute(uri: "/assets/app.js", method: .get) { try #require($0.headers[.eTag]) }
            #expect(css != js)
        }
    }

    @Test("HEAD gives the headers and length without a body")
    func head() async throws {
        let database = try await TestPostgres.shared.makeDatabase()
        let length = try Self.sourceFile("app.js").utf8.count
        try await withTestApp(database: database) { client in
            try await client.execute(uri: "/assets/app.js", method: .head) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "text/javascript; charset=utf-8")
                #expect(response.headers[.contentLength] == "\(length)")
                #expect(response.body.readableBytes == 0)
            }
        }
    }

    @Test(
        "unknown assets and every path-traversal spelling are a JSON 404 that leaks no file",
        arguments: [
            "/assets/nope.js", "/assets/", "/assets", "/assets/APP.JS", "/assets/app.js.map", "/assets/Public",
            "/assets/../Package.swift", "/assets/..%2F..%2F..%2FPackage.swift", "/assets/%2e%2e/%2e%2e/Package.swift",
            "/assets/..%2fWebAssets.swift", "/assets/%2E%2E%5C%2E%2E%5CPackage.swift", "/../../Package.swift",
            "/assets/app.js/..", "/assets/app.js%00.html", "/assets//etc/passwd", "/assets/..%252F..%252FPackage.swift",
            "/index.html", "/Package.swift",
        ])
    func notFound(path: String) async throws {
        let database = try await TestPostgres.shared.makeDatabase()
        try await withTestApp(database: database) { client in
            try await client.execute(uri: path, method: .get) { response in
                #expect(response.status == .notFound, "\(path)")
                #expect(response.headers[.contentType] == "application/json; charset=utf-8", "\(path)")
                let object = try #require(try response.json() as? [String: Any])
                #expect(object["error"] as? String == "not_found")
                #expect(!response.text.contains("swift-tools-version") && !response.text.contains("root:"))
            }
        }
    }

    @Test("the page's files load from a folder given explicitly, and a missing file is a clear error")
    func loading() throws {
        let folder = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("cruddur-web-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        for name in ["index.html", "app.css", "app.js"] {
            try Data(name.utf8).write(to: folder.appendingPathComponent(name))
        }
        let error = #expect(throws: BundledFileError.self) { try WebAssets(directory: folder) }
        #expect(error.map { "\($0)".contains("icon.svg") } == true)
        try Data("<svg/>".utf8).write(to: folder.appendingPathComponent("icon.svg"))
        let assets = try WebAssets(directory: folder)
        #expect(assets.asset(named: "app.css").map { String(buffer: $0.body) } == "app.css")
        #expect(assets.asset(named: "../app.css") == nil)
        #expect(try WebAssets.bundled().index.contentType == "text/html; charset=utf-8")
    }
}
