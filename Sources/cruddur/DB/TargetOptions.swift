import ArgumentParser
import CruddurDatabase
import Foundation
import Logging

/// Which database a `cruddur db` command acts on: `CONNECTION_URL` (or the local cluster), `--prod`, or `--url`.
struct TargetSelection: ParsableArguments {
    @Flag(help: "Act on PROD_CONNECTION_URL (the RDS database).")
    var prod = false

    @Option(help: ArgumentHelp("A database URL without a password (use PGPASSWORD or ~/.pgpass).", valueName: "url"))
    var url: String?

    @Option(
        help: ArgumentHelp(
            "With --prod: read the master password from this Secrets Manager secret (ARN or name) instead of PGPASSWORD. "
                + "Without it, --prod with no password anywhere reads the secret of the RDS instance PROD_CONNECTION_URL names.",
            valueName: "secret"))
    var masterSecret: String?

    func validate() throws {
        if prod && url != nil {
            throw ValidationError("--prod and --url name different targets; give one")
        }
        if let masterSecret {
            guard prod else { throw ValidationError("--master-secret applies to --prod only") }
            guard MasterSecret.isValidIdentifier(masterSecret) else {
                throw ValidationError("--master-secret must be a secret's ARN or name (no spaces or control characters)")
            }
        }
        if let url, ConnectionSettings.urlCarriesPassword(url) {
            throw ValidationError(ConnectionSettingsError.passwordInURL(source: "--url").description)
        }
    }

    /// Runs `body` on the target (for the local cluster, started for the length of the command) with a command
    /// logger, closing it after; with `wait`, first waits up to that long for the server. A failure is one line on
    /// stderr.
    func withOpened(waitingUpTo wait: Duration?, _ body: (OpenedTarget, Logger) async throws -> Void) async throws {
        try await reportingFailures {
            let logger = makeCommandLogger()
            let target = try await MasterSecret.apply(
                to: try DatabaseTarget.resolve(url: url, production: prod, applicationName: "cruddur-cli"), secret: masterSecret, logger: logger)
            try await OpenedTarget.with(target, preparing: false, logger: logger) { opened in
                if let wait {
                    try await WaitForServer.until(opened.settings, timeout: wait, logger: logger)
                }
                try await body(opened, logger)
            }
        }
    }
}

/// The target plus `--wait`: what every `cruddur db` command but `db wait` (whose one timeout is `--timeout`) takes.
struct TargetOptions: ParsableArguments {
    @OptionGroup var selection: TargetSelection

    @Option(help: ArgumentHelp("Wait up to this many seconds for the server to accept connections first.", valueName: "seconds"))
    var wait: Int?

    func validate() throws {
        if let wait, !(1...3600).contains(wait) {
            throw ValidationError("--wait must be from 1 to 3600 seconds")
        }
    }

    /// Runs `body` on the target, after waiting for it when `--wait` is given (see ``TargetSelection``).
    func withOpened(_ body: (OpenedTarget, Logger) async throws -> Void) async throws {
        try await selection.withOpened(waitingUpTo: wait.map { .seconds($0) }, body)
    }
}

/// `--yes-i-mean-production`: the explicit consent destructive commands need against a production database: one
/// reached with `--prod`, or one that `setup --prod` or `migrate --prod` marked, however it is reached now.
struct ProductionConfirmation: ParsableArguments {
    @Flag(name: .customLong("yes-i-mean-production"), help: "Confirm a destructive command against a production database.")
    var confirmed = false

    /// Refuses when the target is production and the flag is missing.
    func check(_ target: OpenedTarget, action: String, logger: Logger) async throws {
        guard !confirmed else { return }
        let marked = target.isProduction ? false : try await ProductionMarker(logger: logger).isMarked(target.settings)
        guard target.isProduction || marked else { return }
        throw CommandFailure(
            "refusing to \(action) on the production database \(target.settings)\(marked ? " (marked so by setup --prod or migrate --prod)" : "") "
                + "without --yes-i-mean-production")
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
