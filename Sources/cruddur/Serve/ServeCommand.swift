import ArgumentParser
import CruddurAPI
import CruddurAWS
import CruddurDatabase
import CruddurDomain
import CruddurLogging
import CruddurTracing
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// `cruddur serve`: runs the HTTP API on `HOST`:`PORT` against `CONNECTION_URL` or the local cluster.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the Cruddur HTTP API (on a private local PostgreSQL when CONNECTION_URL is unset).",
        discussion: """
            Environment: CONNECTION_URL, HOST (default 127.0.0.1), PORT (default 4567), FRONTEND_URL \
            (default http://localhost:3000), LOG_LEVEL, LOG_FORMAT, ACCESS_LOG, METRICS_PORT, OTEL_EXPORTER_OTLP_ENDPOINT \
            (traces; with the other OTEL_* variables); AWS_COGNITO_USER_POOL_ID, AWS_COGNITO_USER_POOL_CLIENT_ID and \
            AWS_DEFAULT_REGION make posting need a Cognito token (COGNITO_JWKS_URL overrides where its keys come from). \
            Without them, writes are unauthenticated (local development mode), which is refused on a non-loopback HOST \
            unless --allow-unauthenticated-writes.
            """
    )

    @Flag(help: "Apply pending migrations to CONNECTION_URL's database at start (the local cluster is always migrated).")
    var migrate = false

    @Option(help: "Seconds between purges of expired activities.")
    var purgeInterval: Int = 60

    @Flag(help: "Without Cognito settings, serve on a non-loopback HOST anyway: anyone who can reach it can post as any user.")
    var allowUnauthenticatedWrites = false

    func validate() throws {
        guard (1...86_400).contains(purgeInterval) else {
            throw ValidationError("--purge-interval must be from 1 to 86400 seconds")
        }
    }

    func run() async throws {
        try await reportingFailures {
            let logger = LogSetup.logger(
                label: "cruddur", defaultLevel: .info, environment: ProcessInfo.processInfo.environment, metadataProvider: .traceID)
            // First: in the container image, a missing CONNECTION_URL is the one thing to say.
            let target = try DatabaseTarget.resolve()
            var configuration = try ServeSettings.fromEnvironment()
            configuration.purgeInterval = .seconds(purgeInterval)
            configuration.cognito = try WriteAuthentication.cognitoSettings()
            configuration.readReplica = try Self.readReplica()
            try WriteAuthentication.refuseUnsafeBinding(configuration, allowUnauthenticatedWrites: allowUnauthenticatedWrites)
            if let traces = try TraceSettings.fromEnvironment(ProcessInfo.processInfo.environment, defaultServiceName: "cruddur") {
                configuration.traceExport = try TraceExport.bootstrap(traces, logger: logger)
            }
            if case .url(let settings, let source, _) = target {
                try await Self.checkSchema(settings, source: source, migrate: migrate, logger: logger)
            }
            try await OpenedTarget.with(target, preparing: true, logger: logger) { database in
                let app = try buildApplication(configuration: configuration, database: database.settings, logger: logger)
                WriteAuthentication.logMode(configuration, logger: logger)
                logger.info(
                    "Cruddur is serving",
                    metadata: [
                        "url": "http://\(configuration.host):\(configuration.port)", "database": "\(database.settings)",
                        "read_replica": "\(configuration.readReplica.map { "\($0)" } ?? "none")",
                        "version": "\(CruddurRelease.version)",
                    ])
                try await Self.run(app, host: configuration.host, port: configuration.port, logger: logger)
            }
        }
    }

    /// `READ_CONNECTION_URL`, under the same `DB_AUTH` as `CONNECTION_URL`; nil when unset.
    static func readReplica(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ConnectionSettings? {
        guard let url = environment["READ_CONNECTION_URL"], !url.isEmpty else { return nil }
        guard environment["CONNECTION_URL"]?.isEmpty == false else {
            throw CommandFailure("READ_CONNECTION_URL needs CONNECTION_URL: the replica's primary takes the writes")
        }
        do {
            return try DatabaseAuthentication.settings(url: url, source: "READ_CONNECTION_URL", environment: environment)
                .with(applicationName: "cruddur-api-reads")
        } catch let error as DatabaseAuthenticationError {
            throw CommandFailure(error.description)
        } catch {
            throw CommandFailure("READ_CONNECTION_URL: \(error)")
        }
    }

    /// Runs the application until SIGTERM or SIGINT, then shuts down gracefully: in-flight requests finish,
    /// new connections are refused, the pool closes. A shutdown that takes longer than 20 s is cancelled.
    static func run(_ app: some Service, host: String, port: Int, logger: Logger) async throws {
        var configuration = ServiceGroupConfiguration(
            services: [.init(service: app)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger
        )
        configuration.maximumGracefulShutdownDuration = .seconds(20)
        configuration.maximumCancellationDuration = .seconds(5)
        do {
            try await ServiceGroup(configuration: configuration).run()
        } catch let error as IOError where error.errnoCode == EADDRINUSE {
            throw CommandFailure("\(host):\(port) is already in use (another cruddur serve?): stop it, or set PORT to a free port")
        } catch let error as IOError where error.errnoCode == EADDRNOTAVAIL {
            throw CommandFailure("cannot listen on \(host): no network interface of this machine has that address; check HOST")
        }
    }

    /// Refuses to serve a database with pending migrations unless `--migrate` says to apply them.
    static func checkSchema(_ settings: ConnectionSettings, source: String, migrate: Bool, logger: Logger) async throws {
        try await Database.withConnection(settings.with(applicationName: "cruddur-api"), logger: logger, operation: "checking the schema") {
            connection in
            let runner = MigrationRunner(logger: logger)
            let pending = try await runner.pending(on: connection)
            guard !pending.isEmpty else { return }
            guard migrate else { throw MigrationError.pendingMigrations(pending) }
            try await runner.migrate(on: connection)
        }
    }
}
