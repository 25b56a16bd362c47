import CruddurDomain
import Foundation
import HTTPTypes
import Hummingbird

/// An error the API answers with: `{"error": "<code>", "message": "<one human sentence>"}`.
public struct APIError: HTTPResponseError, CustomStringConvertible {
    public let status: HTTPResponse.Status
    public let code: String
    public let message: String
    public var headers: HTTPFields = [:]

    public init(_ status: HTTPResponse.Status, code: String, message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    public var description: String { "\(status.code) \(code): \(message)" }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = self.headers
        headers[.contentType] = "application/json; charset=utf-8"
        var json = JSONWriter()
        json.raw(#"{"error":"#)
        json.string(code)
        json.raw(#","message":"#)
        json.string(message)
        json.raw("}")
        return Response(status: status, headers: headers, body: .init(byteBuffer: json.buffer))
    }

    static let databaseUnavailable = APIError(
        .serviceUnavailable, code: "database_unavailable", message: "The database is not answering; try again shortly."
    )
}

/// A rejected post: `422` with the seed's JSON array of error codes.
struct ValidationErrorResponse: HTTPResponseError {
    let codes: [ActivityValidationError]
    var status: HTTPResponse.Status { .unprocessableContent }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var json = JSONWriter()
        json.raw("[")
        for (index, code) in codes.enumerated() {
            if index > 0 { json.raw(",") }
            json.string(code.rawValue)
        }
        json.raw("]")
        return Response(
            status: status,
            headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: json.buffer)
        )
    }
}
