import CruddurDatabase
import Crypto
import Foundation
import NIOCore

/// One file of the web page, read once at start-up and served from memory.
public struct WebAsset: Sendable {
    public let name: String
    public let contentType: String
    public let body: ByteBuffer
    /// A strong validator derived from the content (`"sha256-…"`), so it changes exactly when the file does.
    public let eTag: String

    init(name: String, contentType: String, data: Data) {
        self.name = name
        self.contentType = contentType
        self.body = ByteBuffer(bytes: data)
        let digest = SHA256.hash(data: data).prefix(16).map { String(format: "%02x", $0) }.joined()
        self.eTag = "\"sha256-\(digest)\""
    }
}

/// The page's files (`Web/Public` in the package, copied into the module's resource bundle).
///
/// Only the files listed here are ever served, by exact name: a request cannot name any other file.
public struct WebAssets: Sendable {
    /// The files and their media types.
    static let catalogue: [(name: String, contentType: String)] = [
        ("index.html", "text/html; charset=utf-8"),
        ("app.css", "text/css; charset=utf-8"),
        ("app.js", "text/javascript; charset=utf-8"),
        ("icon.svg", "image/svg+xml"),
    ]

    private let assets: [String: WebAsset]

    /// The page itself (`GET /`).
    public let index: WebAsset

    /// The asset called exactly `name`, if there is one.
    public func asset(named name: String) -> WebAsset? {
        assets[name]
    }

    /// Reads every file of the catalogue from `directory`.
    public init(directory: URL) throws {
        var assets: [String: WebAsset] = [:]
        for (name, contentType) in Self.catalogue {
            let file = directory.appendingPathComponent(name)
            do {
                assets[name] = WebAsset(name: name, contentType: contentType, data: try Data(contentsOf: file))
            } catch {
                throw BundledFileError.unreadable(file: file.path)
            }
        }
        guard let index = assets["index.html"] else {
            throw BundledFileError.unreadable(file: directory.appendingPathComponent("index.html").path)
        }
        self.assets = assets
        self.index = index
    }

    /// The files as built into this module's resource bundle.
    public static func bundled() throws -> WebAssets {
        guard let directory = Bundle.module.url(forResource: "Public", withExtension: nil) else {
            throw BundledFileError.missingBundle(path: Bundle.module.bundlePath)
        }
        return try WebAssets(directory: directory)
    }
}

/// A file the server serves from its resource bundle (the web page's, the OpenAPI document) could not be loaded at
/// start-up.
public enum BundledFileError: CruddurError {
    case missingBundle(path: String)
    case unreadable(file: String)

    public var description: String {
        switch self {
        case .missingBundle(let path):
            "the server's resource bundle is missing or incomplete at \(path); rebuild with swift build"
        case .unreadable(let file):
            "cannot read the server's bundled file \(file)"
        }
    }
}
