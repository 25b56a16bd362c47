import Foundation
import NIOCore

/// The API's OpenAPI 3.1 document (`OpenAPI/openapi.json`, written by hand and kept true by the tests), read once at
/// start-up from the module's resource bundle and served byte for byte.
public struct OpenAPIDocument: Sendable {
    public let body: ByteBuffer

    public init(data: Data) {
        self.body = ByteBuffer(bytes: data)
    }

    /// The document as built into this module's resource bundle.
    public static func bundled() throws -> OpenAPIDocument {
        guard let file = Bundle.module.url(forResource: "openapi", withExtension: "json") else {
            throw BundledFileError.missingBundle(path: Bundle.module.bundlePath)
        }
        do {
            return OpenAPIDocument(data: try Data(contentsOf: file))
        } catch {
            throw BundledFileError.unreadable(file: file.path)
        }
    }
}
