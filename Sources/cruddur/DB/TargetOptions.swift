import ArgumentParser
import CruddurDatabase
import Foundation
import Logging

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
    func open(logger: Logger) async throws -> OpenedTarget {
        let target = try await OpenedTarget.open(
            DatabaseTarget.resolve(url: url, production: prod, applicationName: "cruddur-cli"), preparing: false, logger: logger
        )
        if let wait {
            do {
                try await WaitForServer.until(target.settings, timeout: .seconds(wait), logger: logger)
            } catch {
                await target.close(logger: logger)
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
            do {
                try await body(opened, logger)
            } catch {
                await opened.close(logger: logger)
                throw error
            }
            await opened.close(logger: logger)
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

/// Polls until the server accepts connections or the timeout passes.
enum WaitForServer {
    static func until(_ settings: ConnectionSettings, timeout: Duration, logger: Logger) async throws {
        let deadline = ContinuousClock.now + timeout
        var lastError: (any Error)?
        while ContinuousClock.now < deadline {
            do {
                try await Database.withConnection(
                    settings.with(database: DatabaseAdministration.maintenanceDatabase), logger: logger, operation: "waiting for the server"
                ) { _ in }
                return
            } catch let error as DatabaseError where error.sqlState != nil && !error.isUnavailable {
                // The server answered (e.g. a wrong password): waiting longer will not help.
                throw error
            } catch {
                lastError = error
                try await Task.sleep(for: .milliseconds(250))
            }
        }
        throw CommandFailure(
            "\(settings) did not accept connections within \(timeout.components.seconds) s\(lastError.map { " (\(oneLine($0)))" } ?? "")")
    }
}
