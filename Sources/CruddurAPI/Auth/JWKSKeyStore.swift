import AsyncHTTPClient
import Foundation
import JWTKit
import Logging
import NIOCore
import Tracing

/// A user pool's signing keys: fetched on first use, cached, and refreshed when a token names a `kid` the cache
/// does not have (Cognito adds the new key to the set before it signs with it) and when the set has expired: after
/// the response's `Cache-Control: max-age`, at most (and, without one, exactly) ``maximumKeySetAge``, so a key the pool
/// has removed stops being trusted.
///
/// Refreshes are rate limited, so a flood of tokens with made-up key ids cannot hammer the JWKS endpoint: after a
/// successful fetch the next waits `minimumRefreshInterval`, after a failed one `failureRetryInterval`. Concurrent
/// lookups that need a fetch share one. When refreshing an expired set fails, the old set keeps serving (the pool's
/// endpoint being down must not lock every writer out); the failure is logged once per streak.
actor JWKSKeyStore {
    /// The answer for one key id.
    enum Lookup: Sendable {
        /// The current key set, which has the key.
        case found(JWTKeyCollection)
        /// The key set (fetched now, or recently enough) does not have the key.
        case unknown
        /// The key set cannot be fetched right now.
        case unavailable(reason: String)
    }

    /// The largest JWKS document accepted (Cognito's is about 1 KiB).
    static let maximumDocumentSize = 256 * 1024
    /// The longest a fetched key set is used before it is fetched again.
    static let maximumKeySetAge: Duration = .seconds(3_600)

    private let url: String
    private let fetchTimeout: Duration
    private let minimumRefreshInterval: Duration
    private let failureRetryInterval: Duration
    private let logger: Logger
    private let metrics: ServerMetrics?

    private var current: KeySet?
    private var lastAttempt: (at: ContinuousClock.Instant, failure: String?)?
    private var inFlight: Task<Result<KeySet, FetchFailure>, Never>?

    init(settings: CognitoSettings, logger: Logger, metrics: ServerMetrics? = nil) {
        self.metrics = metrics
        self.url = settings.jwksURL
        self.fetchTimeout = settings.fetchTimeout
        self.minimumRefreshInterval = settings.minimumRefreshInterval
        self.failureRetryInterval = settings.failureRetryInterval
        self.logger = logger
    }

    /// The key set to verify a token signed with `keyID`, fetching it first when needed and allowed.
    func keys(for keyID: String) async -> Lookup {
        let now = ContinuousClock.now
        if let current, current.keyIDs.contains(keyID), now < current.expiresAt {
            return .found(current.collection)
        }
        let fetch: Task<Result<KeySet, FetchFailure>, Never>
        if let inFlight {
            fetch = inFlight
        } else {
            if let answer = answerWithoutFetching(keyID: keyID, now: now) {
                return answer
            }
            fetch = Task { [url, fetchTimeout, logger] in
                let result = await Self.fetch(url: url, timeout: fetchTimeout, logger: logger)
                await self.record(result)
                return result
            }
            inFlight = fetch
        }
        switch await fetch.value {
        case .success(let keySet):
            return keySet.keyIDs.contains(keyID) ? .found(keySet.collection) : .unknown
        case .failure(let failure):
            // An expired set that has the key beats no answer while the endpoint is down.
            if let current, current.keyIDs.contains(keyID) { return .found(current.collection) }
            return .unavailable(reason: failure.reason)
        }
    }

    /// When a fetch is not allowed yet: what the last one said (an expired set that has the key still serves).
    private func answerWithoutFetching(keyID: String, now: ContinuousClock.Instant) -> Lookup? {
        guard let lastAttempt else { return nil }
        let elapsed = lastAttempt.at.duration(to: now)
        if let failure = lastAttempt.failure {
            guard elapsed < failureRetryInterval else { return nil }
            if let current, current.keyIDs.contains(keyID) { return .found(current.collection) }
            return .unavailable(reason: failure)
        }
        if let current, current.keyIDs.contains(keyID) {
            // Expired: fetch again, but never more often than the rate limit allows.
            return elapsed < minimumRefreshInterval ? .found(current.collection) : nil
        }
        return elapsed < minimumRefreshInterval ? .unknown : nil
    }

    private func record(_ result: Result<KeySet, FetchFailure>) {
        inFlight = nil
        let failing = lastAttempt?.failure != nil
        switch result {
        case .success(let keySet):
            metrics?.signingKeysFetched(succeeded: true)
            current = keySet
            lastAttempt = (.now, nil)
            logger.info(
                failing ? "Fetched the user pool's signing keys again after failures" : "Fetched the user pool's signing keys",
                metadata: ["jwks_url": "\(url)", "keys": "\(keySet.keyIDs.count)", "max_age_seconds": "\(keySet.maximumAge.components.seconds)"]
            )
        case .failure(let failure):
            metrics?.signingKeysFetched(succeeded: false)
            lastAttempt = (.now, failure.reason)
            guard !failing else { return }
            logger.warning(
                current == nil
                    ? "Fetching the user pool's signing keys failed" : "Refreshing the user pool's signing keys failed; the old set serves",
                metadata: ["jwks_url": "\(url)", "reason": "\(failure.reason)"]
            )
        }
    }

    /// One GET of the JWKS document, within `timeout`, on a client of its own: fetches are rare, and unlike the shared
    /// client it fails at once when the connection is refused instead of retrying until the deadline, and follows no
    /// redirects.
    private static func fetch(url: String, timeout: Duration, logger: Logger) async -> Result<KeySet, FetchFailure> {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: TimeAmount(timeout), read: TimeAmount(timeout))
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.redirectConfiguration = .disallow
        let httpClient = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration, backgroundActivityLogger: logger)
        // A client span when traces are exported (the request's, or a root span for a refresh).
        let span = InstrumentationSystem.tracer.startSpan("GET jwks", ofKind: .client)
        span.attributes["http.request.method"] = "GET"
        span.attributes["url.full"] = url
        let result = await fetch(url: url, timeout: timeout, httpClient: httpClient, logger: logger)
        if case .failure = result {
            span.attributes["error.type"] = "jwks_unavailable"
            span.setStatus(SpanStatus(code: .error))
        }
        span.end()
        try? await httpClient.shutdown()
        return result
    }

    private static func fetch(url: String, timeout: Duration, httpClient: HTTPClient, logger: Logger) async -> Result<KeySet, FetchFailure> {
        do {
            return try await withFetchDeadline(timeout) {
                var request = HTTPClientRequest(url: url)
                request.headers.add(name: "Accept", value: "application/json")
                let response = try await httpClient.execute(request, timeout: TimeAmount(timeout), logger: logger)
                guard response.status == .ok else {
                    return .failure(FetchFailure(reason: "the JWKS endpoint answered HTTP \(response.status.code)"))
                }
                let body = try await response.body.collect(upTo: maximumDocumentSize)
                let maximumAge = KeySet.maximumAge(cacheControl: response.headers[canonicalForm: "Cache-Control"].joined(separator: ","))
                return await KeySet.make(from: Data(body.readableBytesView), maximumAge: maximumAge, logger: logger)
            }
        } catch is NIOTooManyBytesError {
            return .failure(FetchFailure(reason: "the JWKS document is larger than \(maximumDocumentSize) bytes"))
        } catch is FetchTimedOut {
            return .failure(FetchFailure(reason: "the JWKS endpoint did not answer within the deadline"))
        } catch {
            return .failure(FetchFailure(reason: "the JWKS endpoint cannot be reached (\(error))"))
        }
    }

    /// Runs `body`, giving up after `deadline` (so a peer that sends headers and then stalls cannot hold a request).
    private static func withFetchDeadline<Value: Sendable>(
        _ deadline: Duration, _ body: @escaping @Sendable () async throws -> Value
    ) async throws -> Value {
        try await withThrowingTaskGroup(of: Value?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: deadline)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let value = first else { throw FetchTimedOut() }
            return value
        }
    }

    private struct FetchTimedOut: Error {}
}

/// Why the key set could not be had.
struct FetchFailure: Error, Sendable {
    let reason: String
}

/// The RS256 keys of one JWKS document, by key id.
struct KeySet: Sendable {
    let collection: JWTKeyCollection
    let keyIDs: Set<String>
    /// How long the set is used before it is fetched again.
    let maximumAge: Duration
    let expiresAt: ContinuousClock.Instant

    /// `Cache-Control: max-age` (seconds), capped at ``JWKSKeyStore/maximumKeySetAge``, which is also the answer when
    /// there is none; `no-cache`, `no-store` and `max-age=0` mean the next lookup fetches again (rate limits apply).
    static func maximumAge(cacheControl: String) -> Duration {
        var age = JWKSKeyStore.maximumKeySetAge
        for directive in cacheControl.lowercased().split(separator: ",") {
            let parts = directive.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            switch parts.first {
            case "no-cache", "no-store":
                return .zero
            case "max-age":
                if parts.count == 2, let seconds = Int64(parts[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))), seconds >= 0 {
                    age = min(age, .seconds(seconds))
                }
            default:
                continue
            }
        }
        return age
    }

    /// Keeps the document's RSA signing keys (`kty` RSA, `alg` RS256 or absent, `use` sig or absent), each pinned to
    /// RS256 whatever a token's header claims; a document with none is a failure.
    static func make(from document: Data, maximumAge: Duration, logger: Logger) async -> Result<KeySet, FetchFailure> {
        let parsed: Document
        do {
            parsed = try JSONDecoder().decode(Document.self, from: document)
        } catch {
            return .failure(FetchFailure(reason: "the JWKS document is not a JSON key set"))
        }
        let collection = JWTKeyCollection()
        var keyIDs: Set<String> = []
        for key in parsed.keys {
            guard key.kty == "RSA", key.alg == nil || key.alg == "RS256", key.use == nil || key.use == "sig",
                let kid = key.kid, !kid.isEmpty, let modulus = key.n, let exponent = key.e
            else { continue }
            do {
                try await collection.add(jwk: .rsa(.rs256, identifier: JWKIdentifier(string: kid), modulus: modulus, exponent: exponent))
                keyIDs.insert(kid)
            } catch {
                logger.warning("Skipping an unusable key in the JWKS document", metadata: ["kid": "\(kid)"])
            }
        }
        guard !keyIDs.isEmpty else {
            return .failure(FetchFailure(reason: "the JWKS document has no RS256 signing keys"))
        }
        // Never fall back to some default key for a token whose kid is not in the set.
        await collection.clearDefault()
        return .success(KeySet(collection: collection, keyIDs: keyIDs, maximumAge: maximumAge, expiresAt: .now + maximumAge))
    }

    /// The wire form of a JWKS: every field optional, so one odd key does not spoil the set.
    private struct Document: Decodable {
        let keys: [Key]
    }

    private struct Key: Decodable {
        let kty: String?
        let kid: String?
        let alg: String?
        let use: String?
        let n: String?
        let e: String?
    }
}
