import CruddurDatabase
import CruddurDomain
import CruddurLogging
import CruddurTracing
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import ServiceLifecycle

/// Everything `buildApplication` needs to know; read from the environment by the CLI, set directly by tests.
public struct APIConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// The browser origin allowed by CORS.
    public var frontendURL: String
    /// How often the background purge of expired activities runs.
    public var purgeInterval: Duration
    public var purgeBatchSize: Int
    /// The deadline for each database call, including waiting for a pooled connection.
    public var queryDeadline: Duration
    public var databasePoolSize: Int
    /// A connection that completes no request part for this long is closed: slow-loris clients included.
    public var idleTimeout: Duration
    /// A request must arrive whole (head and body) within this long; past it the connection is closed, with a `408`
    /// when no response has started.
    public var requestTimeout: Duration = .seconds(30)
    /// Connections beyond this many wait in the listen backlog instead of being accepted.
    public var maxConnections: Int
    /// `POST_RATE_LIMIT`: posts per author and window (nil: no limit).
    public var postRateLimit: PostRateLimit? = .standard
    /// Keep the feed's first page in memory for at most ``feedCacheMaxAge`` (see ``FeedCache``).
    public var feedCache = false
    /// `METRICS_PORT`: the Prometheus endpoint's own port, on `host` (nil: no metrics are kept or served).
    public var metricsPort: Int?
    /// `ACCESS_LOG`: one line per request on stderr (``AccessLog``); `cruddur serve` turns it on unless told not to.
    public var accessLog = false
    /// `LOG_FORMAT`: how the access log's lines are written (the process's log handler uses the same).
    public var logFormat: LogFormat = .text
    /// Traces exported over OTLP (`OTEL_EXPORTER_OTLP_ENDPOINT`), already bootstrapped as the process's tracer; nil:
    /// no spans are made at all.
    public var traceExport: TraceExport?
    /// `FEED_CACHE_MAX_AGE_MS`: how stale a cached page may be; every server sees any change within it (at most 1 s).
    public var feedCacheMaxAge: Duration = .milliseconds(500)
    /// `READ_CONNECTION_URL`: a streaming read replica for feed reads (see ``ReplicaReads``); nil: the primary serves them.
    public var readReplica: ConnectionSettings?
    /// `READ_REPLICA_MAX_LAG`: how stale a replica read may be; nil: what the 1 s budget leaves after the feed cache.
    public var readReplicaMaxLag: Duration?
    /// How stale any read may be, on any server: the feed cache's window and the replica's lag together.
    public static let stalenessBudget: Duration = .seconds(1)
    /// The replica's lag bound in effect.
    public var effectiveReadReplicaMaxLag: Duration {
        readReplicaMaxLag ?? Self.stalenessBudget - (feedCache ? min(feedCacheMaxAge, FeedCache.maximumMaxAge) : .zero)
    }
    /// The user pool whose tokens writes need; nil is local development mode (the body's `user_handle` is trusted).
    public var cognito: CognitoSettings?
    /// `ALLOWED_HOSTS`: the `Host` names accepted besides loopback ones (lowercased, no port).
    public var extraAllowedHosts: Set<String> = []
    /// Whether `Host` is checked: always in local development mode (against DNS rebinding), and in Cognito mode when
    /// `ALLOWED_HOSTS` lists names. Nil means any `Host` is accepted.
    public var allowedHosts: Set<String>? {
        cognito == nil || !extraAllowedHosts.isEmpty ? extraAllowedHosts : nil
    }

    public init(
        host: String = "127.0.0.1", port: Int = 4567, frontendURL: String = "http://localhost:3000",
        purgeInterval: Duration = .seconds(60), purgeBatchSize: Int = 500,
        queryDeadline: Duration = Database.defaultQueryDeadline, databasePoolSize: Int = 8,
        idleTimeout: Duration = .seconds(15), maxConnections: Int = 2048,
        cognito: CognitoSettings? = nil
    ) {
        self.host = host
        self.port = port
        self.frontendURL = frontendURL
        self.purgeInterval = purgeInterval
        self.purgeBatchSize = purgeBatchSize
        self.queryDeadline = queryDeadline
        self.databasePoolSize = databasePoolSize
        self.idleTimeout = idleTimeout
        self.maxConnections = maxConnections
        self.cognito = cognito
    }
}

/// The request context of every route.
public typealias AppRequestContext = BasicRequestContext

/// Builds the API: the router, its controllers, and the services it runs (the Postgres pool, the purge).
public func buildApplication(
    configuration: APIConfiguration,
    database: ConnectionSettings,
    logger: Logger
) throws -> some ApplicationProtocol {
    let web = try WebAssets.bundled()
    let document = try OpenAPIDocument.bundled()
    let metrics: ServerMetrics? = configuration.metricsPort == nil ? nil : ServerMetrics()
    var observer: (@Sendable (String, Duration, Bool) -> Void)?
    if let metrics {
        observer = { operation, duration, succeeded in metrics.databaseCall(operation: operation, duration: duration, succeeded: succeeded) }
    }
    /// A pool on `settings`, named `name` in `pg_stat_activity` unless the URL names it.
    func makePool(_ settings: ConnectionSettings, name: String) throws -> DatabasePool {
        try DatabasePool(
            settings: settings.with(applicationName: settings.applicationName ?? name),
            size: configuration.databasePoolSize,
            deadline: configuration.queryDeadline,
            logger: logger,
            observer: observer,
            traced: configuration.traceExport != nil
        )
    }
    let pool = try makePool(database, name: "cruddur-api")
    var replicaReads: ReplicaReads?
    if let replica = configuration.readReplica {
        let replicaPool = try makePool(replica, name: "cruddur-api-reads")
        replicaReads = ReplicaReads(primary: pool, replica: replicaPool, maxLag: configuration.effectiveReadReplicaMaxLag, logger: logger)
    }
    let activities = ActivityRepository(pool: pool, reads: replicaReads, logger: logger)
    let users = UserRepository(pool: pool, logger: logger)
    let verifier = configuration.cognito.map { CognitoTokenVerifier(settings: $0, logger: logger, metrics: metrics) }
    let authors = ActivityAuthorResolver(verifier: verifier)
    let feedCache = configuration.feedCache ? FeedCache(maxAge: configuration.feedCacheMaxAge) : nil
    let registrar = try configuration.cognito.map {
        try CognitoRegistrar(settings: $0, users: CognitoUserRepository(pool: pool, logger: logger), logger: logger)
    }
    let accessLog = configuration.accessLog ? AccessLog(format: configuration.logFormat) : nil
    // One generator for every request id this server makes: the middleware's and the request deadline's `408`.
    let requestIDs = IDGenerator()
    let router = buildRouter(
        configuration: configuration, activities: activities, users: users, authors: authors, registrar: registrar, web: web,
        document: document, feedCache: feedCache, accessLog: accessLog, metrics: metrics, requestIDs: requestIDs
    )
    let purger = ExpiryPurger(
        activities: activities, interval: configuration.purgeInterval, batchSize: configuration.purgeBatchSize, logger: logger,
        metrics: metrics
    )
    // The exporter first, so that it stops last and sends the spans of the final requests.
    var services: [any Service] = configuration.traceExport.map { [$0.service] } ?? []
    services += [pool, purger]
    if let replicaReads { services += [replicaReads.replica, replicaReads] }
    if let accessLog { services.append(accessLog) }
    if let metrics, let metricsPort = configuration.metricsPort {
        let metricsRouter = Router(context: AppRequestContext.self)
        MetricsController(metrics: metrics, pool: pool, accessLog: accessLog, traceExport: configuration.traceExport).addRoutes(to: metricsRouter)
        services.append(
            Application(
                router: metricsRouter,
                configuration: .init(address: .hostname(configuration.host, port: metricsPort), serverName: "cruddur-metrics"),
                logger: logger
            ))
    }
    return Application(
        router: router,
        server: .http1(
            configuration: .init(
                additionalChannelHandlers: [
                    RequestDeadlineHandler(timeout: .nanoseconds(Int64(configuration.requestTimeout / .nanoseconds(1))), requestIDs: requestIDs)
                ],
                idleTimeout: .nanoseconds(Int64(configuration.idleTimeout / .nanoseconds(1))),
                httpDecoderConfiguration: .init(maxHeaderFieldSize: 8 * 1024, maxHeaderListSize: 32 * 1024, maxHeaderFieldCount: 100)
            )),
        configuration: .init(
            address: .hostname(configuration.host, port: configuration.port),
            serverName: "cruddur",
            backlog: 1024,
            availableConnectionsDelegate: MaximumAvailableConnections(configuration.maxConnections, logger: logger)
        ),
        services: services,
        logger: logger
    )
}

func buildRouter(
    configuration: APIConfiguration, activities: ActivityRepository, users: UserRepository, authors: ActivityAuthorResolver,
    registrar: CognitoRegistrar? = nil, web: WebAssets, document: OpenAPIDocument, feedCache: FeedCache? = nil,
    accessLog: AccessLog? = nil, metrics: ServerMetrics? = nil, requestIDs: IDGenerator = IDGenerator()
) -> Router<AppRequestContext> {
    let router = Router(context: AppRequestContext.self, options: .autoGenerateHeadEndpoints)
    // Outermost: every answer, whichever middleware gives it, carries the request's id, is counted, traced and in the access log.
    router.add(
        middleware: RequestObservationMiddleware(
            requestIDs: requestIDs, tracer: configuration.traceExport?.tracer, metrics: metrics, accessLog: accessLog))
    router.add(middleware: APIResponseHeadersMiddleware())
    if let allowedHosts = configuration.allowedHosts {
        router.add(middleware: HostCheckMiddleware(allowedHosts: allowedHosts))
    }
    router.add(
        middleware: CORSMiddleware(
            allowOrigin: .custom(configuration.frontendURL),
            allowHeaders: [.contentType, .authorization, .idempotencyKey, .xRequestID, .traceparent, .tracestate],
            allowMethods: [.get, .post, .options],
            exposedHeaders: ExposeHeadersMiddleware<AppRequestContext>.exposedHeaders,
            maxAge: .seconds(600)
        ))
    router.add(middleware: ExposeHeadersMiddleware())
    // Innermost, so errors take the API's JSON shape before CORS adds its headers to them.
    router.add(middleware: JSONErrorMiddleware())
    let api = router.group("api")
    ActivitiesController(
        activities: activities, users: users, authors: authors, rateLimit: configuration.postRateLimit, registrar: registrar,
        feedCache: feedCache, metrics: metrics, tracer: configuration.traceExport?.tracer
    ).addRoutes(to: api.group("activities"))
    HealthController(users: users).addRoutes(to: api.group("health"))
    OpenAPIController(document: document).addRoutes(to: api)
    WebController(assets: web).addRoutes(to: router)
    router.add(middleware: MethodNotAllowedMiddleware(routes: router.routes))
    return router
}
