import ArgumentParser
import CruddurDatabase
import CruddurLocalPostgres
import Foundation
import Logging
import PostgresNIO

/// Which database a `cruddur db` command acts on: `CONNECTION_URL` (or the local cluster), `--prod`, or `--url`.
struct TargetOptions: ParsableArguments {
    @Flag(help: "Act on PROD_CONNECTION_URL (the RDS database).")
    var prod = false

    @Option(help: ArgumentHelp("A database URL without a password (use PGPASSWORD or ~/.pgpass).", valueName: "url"))
    var url: String?

    @Option(help: ArgumentHelp("Wait up to this many seconds for the server to accept connections first.", valueName: "seconds"))
    var wait: Int?

    func validate() throws {
        if prod && url != nil {
            throw ValidationError("--prod and --url name different targets; give one")
        }
        if let url, ConnectionSettings.urlCarriesPassword(url) {
            throw ValidationError(ConnectionSettingsError.passwordInURL(source: "--url").description)
        }
        if let wait, !(1...3600).contains(wait) {
            throw ValidationError("--wait must be from 1 to 3600 seconds")
        }
    }

    /// Resolves the target and, for the local cluster, starts it for the length of the command.
    func open(logger: Logger, environment: [String: String] = ProcessInfo.processInfo.environment) async throws -> OpenedTarget {
        let target: OpenedTarget
        if let url {
            target = OpenedTarget(settings: try Self.parse(url, source: "--url", environment: environment), isProduction: false, lease: nil)
        } else if prod {
            guard let url = environment["PROD_CONNECTION_URL"], !url.isEmpty else {
                throw CommandFailure("--prod needs PROD_CONNECTION_URL to be set (see `cruddur rds url`)")
            }
            target = OpenedTarget(settings: try Self.parse(url, source: "PROD_CONNECTION_URL", environment: environment), isProduction: true, lease: nil)
        } else if let url = environment["CONNECTION_URL"], !url.isEmpty {
            target = OpenedTarget(settings: try Self.parse(url, source: "CONNECTION_URL", environment: environment), isProduction: false, lease: nil)
        } else {
            let cluster = try LocalCluster.forProject(environment: environment)
            let wasRunning = try cluster.isRunning()
            let lease = try cluster.acquire(logger: logger)
            if !wasRunning {
                writeToStandardError("cruddur: started the local PostgreSQL cluster (\(cluster.layout.dataDirectory)); it stops when this command ends\n")
            }
            target = OpenedTarget(settings: cluster.connectionSettings(database: "cruddur"), isProduction: false, lease: lease)
        }
        if let wait {
            do {
                try await WaitForServer.until(target.settings, timeout: .seconds(wait), logger: logger)
            } catch {
                target.close(logger: logger)
                throw error
            }
        }
        return target
    }

    /// Runs `body` on the opened target with a command logger, closing it after; a failure is one line on stderr.
    func withOpened(_ body: (OpenedTarget, Logger) async throws -> Void) async throws {
        try await reportingFailures {
            let logger = makeCommandLogger()
            let opened = try await open(logger: logger)
            defer { opened.close(logger: logger) }
            try await body(opened, logger)
        }
    }

    private static func parse(_ url: String, source: String, environment: [String: String]) throws -> ConnectionSettings {
        do {
            return try ConnectionSettings(url: url, environment: environment).with(applicationName: "cruddur-cli")
        } catch {
            throw CommandFailure("\(source): \(error)")
        }
    }
}

/// `--yes-i-mean-production`: the explicit consent destructive commands need against `--prod`.
struct ProductionConfirmation: ParsableArguments {
    @Flag(name: .customLong("yes-i-mean-production"), help: "Confirm a destructive command against --prod.")
    var confirmed = false

    /// Refuses when the target is production and the flag is missing.
    func check(_ target: OpenedTarget, action: String) throws {
        guard target.isProduction, !confirmed else { return }
        throw CommandFailure("refusing to \(action) on the production database \(target.settings) without --yes-i-mean-production")
    }
}

/// A resolved target for the length of one command.
struct OpenedTarget {
    let settings: ConnectionSettings
    let isProduction: Bool
    let lease: LocalClusterLease?

    func close(logger: Logger) {
        lease?.release(logger: logger)
    }

    /// Runs `body` on one connection to the target's database.
    func withConnection<Result: Sendable>(
        logger: Logger, operation: String, _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        try await Database.withConnection(settings, logger: logger, operation: operation, body)
    }
}

/// Polls until the server accepts connections or the timeout passes.
enum WaitForServer {
    static func until(_ settings: ConnectionSettings, timeout: Duration, logger: Logger) async throws {
        let deadline = ContinuousClock.now + timeout
        var lastError: (any Error)?
        while ContinuousClock.now < deadline {
            do {
                try await Database.withConnection(settings.with(database: DatabaseAdministration.maintenanceDatabase), logger: logger, operation: "waiting for the server") { _ in }
                return
            } catch let error as DatabaseError where error.sqlState != nil && !error.isUnavailable {
                // The server answered (e.g. a wrong password): waiting longer will not help.
                throw error
            } catch {
                lastError = error
                try await Task.sleep(for: .milliseconds(250))
            }
        }
        throw CommandFailure("\(settings) did not accept connections within \(timeout.components.seconds) s\(lastError.map { " (\(oneLine($0)))" } ?? "")")
    }
}

/// A command logger: warnings and errors only, unless `LOG_LEVEL` says otherwise.
func makeCommandLogger() -> Logger {
    bootstrapLogging()
    var logger = Logger(label: "cruddur-cli")
    logger.logLevel = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
    return logger
}
