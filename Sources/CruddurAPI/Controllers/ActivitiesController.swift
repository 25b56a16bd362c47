import CruddurDatabase
import CruddurDomain
import CruddurTracing
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Tracing

/// `/api/activities`: the home feed and posting.
struct ActivitiesController<Context: RequestContext>: Sendable {
    /// The largest request body accepted for a post (a 280-code-point message needs far less).
    static var maximumBodySize: Int { 16 * 1024 }

    let activities: ActivityRepository
    let users: UserRepository
    /// Who a post is from: the Cognito token's user, or (local development mode) the body's `user_handle`.
    let authors: ActivityAuthorResolver
    /// Posts per author and window (nil: none), enforced by the database so that every server shares it.
    let rateLimit: PostRateLimit?
    /// Cognito mode: makes the missing `users` row of a verified user whose sign-up trigger failed.
    var registrar: CognitoRegistrar? = nil
    /// The first page in memory, when enabled.
    var feedCache: FeedCache? = nil
    /// Counts cache lookups, invalidations and rate-limited posts, when metrics are on.
    var metrics: ServerMetrics? = nil
    /// Makes the cache's decisions spans (only when traces are exported).
    var tracer: OTLPTracer? = nil
    /// Identical feed reads that overlap share one query, each answered by a query that started after it arrived.
    let feedReads = ReadCoalescer<FeedRequest, RenderedFeedPage>()

    func addRoutes(to group: RouterGroup<Context>) {
        group.get("home", use: home)
        group.post(use: create)
    }

    /// `GET /api/activities/home?limit=&cursor=`: newest first, with `Link: <…>; rel="next"` on a full page.
    @Sendable func home(_ request: Request, context: Context) async throws -> Response {
        let query = request.uri.queryParameters
        let feedRequest: FeedRequest
        switch FeedRequest.parse(limit: query["limit"].map(String.init), cursor: query["cursor"].map(String.init)) {
        case .success(let parsed):
            feedRequest = parsed
        case .failure(.invalidLimit):
            throw APIError(.badRequest, code: "invalid_limit", message: "limit must be a positive whole number.")
        case .failure(.invalidCursor):
            throw APIError(.badRequest, code: "invalid_cursor", message: "cursor is not one this server issued.")
        }
        guard feedRequest.cursor == nil, let feedCache else {
            let page = try await feedReads.value(for: feedRequest) {
                Self.render(try await activities.homeFeed(feedRequest), limit: feedRequest.limit)
            }
            return Self.feedResponse(body: page.body, link: page.link)
        }
        let arrived = ContinuousClock.now
        let cached = feedCache.page(limit: feedRequest.limit, now: Timestamp.now(), instant: arrived)
        if let tracer { Self.traceCacheDecision(hit: cached != nil, limit: feedRequest.limit, tracer: tracer) }
        if let cached {
            metrics?.feedCacheLookup(hit: true)
            return Self.feedResponse(body: cached.body, link: cached.link)
        }
        metrics?.feedCacheLookup(hit: false)
        let page = try await feedReads.value(for: feedRequest) {
            let generation = feedCache.currentGeneration()
            let queryStarted = ContinuousClock.now
            let items = try await activities.homeFeed(feedRequest)
            let page = Self.render(items, limit: feedRequest.limit)
            feedCache.store(
                limit: feedRequest.limit, generation: generation, queryStarted: queryStarted, body: page.body, link: page.link,
                page: items
            )
            return page
        }
        return Self.feedResponse(body: page.body, link: page.link)
    }

    /// The cache's decision as a span of its own under the request's: `cruddur.feed_cache.hit`. A leaf span encoded
    /// at once, with no object; none under a request that is not sampled.
    static func traceCacheDecision(hit: Bool, limit: Int, tracer: OTLPTracer) {
        tracer.recordLeafSpan(
            "feed cache", ofKind: .internal, in: ServiceContext.current ?? .topLevel, ("cruddur.feed_cache.hit", .bool(hit)),
            ("cruddur.feed_cache.limit", .int(Int64(limit))))
    }

    /// A page's JSON and, for a full page, its `Link: <…>; rel="next"`.
    static func render(_ page: [FeedActivity], limit: Int) -> RenderedFeedPage {
        var link: String?
        if page.count == limit, let last = page.last {
            link = "</api/activities/home?limit=\(limit)&cursor=\(last.cursor.token)>; rel=\"next\""
        }
        return RenderedFeedPage(body: ActivityJSON.feed(page), link: link)
    }

    static func feedResponse(body: ByteBuffer, link: String?) -> Response {
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
        if let link { headers[.link] = link }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: body))
    }

    /// `POST /api/activities` with `{user_handle, message, ttl}`: `200` and the created activity, or `422` and codes.
    /// With Cognito configured it needs a bearer token first (`401`/`503`), and the token's user is the author.
    /// Headers are checked before the body is read.
    @Sendable func create(_ request: Request, context: Context) async throws -> Response {
        try Self.requireJSONContentType(request)
        let identity = try await authors.authenticate(request, logger: context.logger)
        let key = try Self.idempotencyKey(request)
        let draft = try await Self.decodeDraft(request)
        let activity: NewActivity
        switch NewActivity.validate(draft, cognitoSub: identity?.subject) {
        case .success(let valid):
            activity = valid
        case .failure(let failure):
            // Every code that applies: whether the named author exists too.
            let authorMissing = if let author = failure.author { try await !users.exists(author) } else { false }
            throw Self.rejection(failure.errors, author: failure.author, authorMissing: authorMissing)
        }
        var outcome = try await activities.create(activity, idempotencyKey: key?.value, rateLimit: rateLimit)
        if case .authorNotFound = outcome, case .cognitoSub = activity.author, let identity, let registrar {
            try await registrar.register(identity, logger: context.logger)
            outcome = try await activities.create(activity, idempotencyKey: key?.value, rateLimit: rateLimit)
        }
        switch outcome {
        case .created(let created):
            if let feedCache {
                feedCache.invalidate()
                metrics?.feedCacheInvalidated()
            }
            return Self.createdResponse(created)
        case .replayed(let created):
            var response = Self.createdResponse(created)
            response.headers[.idempotentReplayed] = "true"
            return response
        case .keyReused:
            throw ValidationErrorResponse(codes: [.idempotencyKeyReused])
        case .authorNotFound:
            throw Self.rejection([], author: activity.author, authorMissing: true)
        case .rateLimited(let retryAfter):
            metrics?.postRateLimited()
            var error = APIError(
                .tooManyRequests, code: "rate_limited",
                message: "This account has made its \(rateLimit?.posts ?? 0) posts for now; try again in \(retryAfter) seconds."
            )
            error.headers[.retryAfter] = String(retryAfter)
            throw error
        }
    }

    /// The one place a rejected post's answer is made: the validation codes plus a missing author, which for a
    /// handle is the seed's `user_handle_not_found` among the `422`'s codes, and for a verified Cognito user without a
    /// row yet (the post-confirmation Lambda inserts users) a `403`.
    static func rejection(_ codes: [ActivityValidationError], author: Author?, authorMissing: Bool) -> any Error {
        if authorMissing, case .cognitoSub = author {
            return APIError(
                .forbidden, code: "user_not_registered",
                message: "This Cognito user has no Cruddur account yet; finish signing up, then try again."
            )
        }
        return ValidationErrorResponse(codes: authorMissing ? codes + [.userHandleNotFound] : codes)
    }

    /// Only `application/json` (parameters allowed): a page on another site can send `text/plain` or a form without
    /// asking the browser's CORS preflight first, never JSON.
    static func requireJSONContentType(_ request: Request) throws {
        let values = request.headers[values: .contentType]
        let mediaType = values.first?.split(separator: ";", maxSplits: 1).first?.trimmingCharacters(in: .whitespaces).lowercased()
        guard values.count == 1, mediaType == "application/json" else {
            throw APIError(
                .unsupportedMediaType, code: "unsupported_media_type", message: "Send the post as Content-Type: application/json."
            )
        }
    }

    /// The `Idempotency-Key` header, if any; a malformed one is a `400`.
    static func idempotencyKey(_ request: Request) throws -> IdempotencyKey? {
        let values = request.headers[values: .idempotencyKey]
        guard let value = values.first else { return nil }
        guard values.count == 1, let key = IdempotencyKey(value) else {
            throw APIError(
                .badRequest, code: "invalid_idempotency_key",
                message: "Idempotency-Key must be one value of 1 to 255 visible ASCII characters."
            )
        }
        return key
    }

    static func createdResponse(_ created: CreatedActivity) -> Response {
        Response(
            status: .ok,
            headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: ActivityJSON.created(created))
        )
    }

    /// The JSON body of a post; anything that is not a JSON object of optional strings is a `400`/`413`.
    static func decodeDraft(_ request: Request) async throws -> ActivityDraft {
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: maximumBodySize)
        } catch is NIOTooManyBytesError {
            throw APIError(.contentTooLarge, code: "body_too_large", message: "The request body is larger than \(maximumBodySize) bytes.")
        }
        guard body.readableBytes > 0 else {
            throw APIError(.badRequest, code: "missing_body", message: "The request needs a JSON object body.")
        }
        let decoded: CreateActivityBody
        do {
            decoded = try JSONDecoder().decode(CreateActivityBody.self, from: Data(body.readableBytesView))
        } catch DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context) {
            let field = context.codingPath.first?.stringValue
            throw APIError(
                .badRequest, code: "invalid_field_type",
                message: field.map { "\($0) must be a string." } ?? "The body must be a JSON object."
            )
        } catch {
            throw APIError(.badRequest, code: "invalid_json", message: "The request body is not valid JSON.")
        }
        for value in [decoded.userHandle, decoded.message, decoded.ttl] {
            if let value, !value.isStorableInPostgresText {
                throw APIError(.badRequest, code: "invalid_text", message: "Text fields must not contain NUL characters.")
            }
        }
        return ActivityDraft(userHandle: decoded.userHandle, message: decoded.message, ttl: decoded.ttl)
    }
}

/// A feed page as answered: its JSON, and the next page's `Link` when the page is full.
struct RenderedFeedPage: Sendable {
    let body: ByteBuffer
    let link: String?
}

/// The wire form of a post.
private struct CreateActivityBody: Decodable {
    let userHandle: String?
    let message: String?
    let ttl: String?

    enum CodingKeys: String, CodingKey {
        case userHandle = "user_handle"
        case message, ttl
    }
}
