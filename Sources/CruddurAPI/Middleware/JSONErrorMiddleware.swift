import CruddurDatabase
import HTTPTypes
import Hummingbird
import Logging
import NIOHTTP1

/// Turns every error into the API's JSON error shapes; database outages become `503`, never a bare `500`.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            throw error
        } catch let error as ValidationErrorResponse {
            throw error
        } catch let error as HTTPError {
            var mapped = APIError(error.status, code: Self.code(for: error.status), message: Self.message(for: error.status))
            mapped.headers = error.headers
            throw mapped
        } catch let error as HTTPParserError {
            // Malformed framing in a body (a bad chunk size, say): the client's fault, whichever route read it.
            throw APIError(.badRequest, code: "malformed_request", message: "The request's framing is malformed (\(error)).")
        } catch let error as DatabaseError where error.isUnavailable {
            context.logger.warning("Database unavailable", metadata: ["error": "\(error)"])
            throw APIError.databaseUnavailable
        } catch {
            context.logger.error("Request failed", metadata: ["error": "\(error)"])
            throw APIError(.internalServerError, code: "internal_error", message: "The server failed to handle the request.")
        }
    }

    static func code(for status: HTTPResponse.Status) -> String {
        switch status {
        case .notFound: "not_found"
        case .methodNotAllowed: "method_not_allowed"
        case .contentTooLarge: "body_too_large"
        case .unsupportedMediaType: "unsupported_media_type"
        case .badRequest: "bad_request"
        default: status.code >= 500 ? "server_error" : "request_error"
        }
    }

    static func message(for status: HTTPResponse.Status) -> String {
        switch status {
        case .notFound: "There is nothing at this address."
        case .methodNotAllowed: "This address does not accept that method."
        case .contentTooLarge: "The request body is too large."
        default: "The request could not be handled (\(status.code) \(status.reasonPhrase))."
        }
    }
}
