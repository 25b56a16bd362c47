import ArgumentParser
import CruddurDatabase
import Foundation
import Logging
import PostgresNIO

/// `--app-role NAME [--iam]`: also create a least-privilege login role for the service and the Lambda.
struct AppRoleOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Create or update a login role that may read and write Cruddur's tables but run no DDL.", valueName: "name"))
    var appRole: String?

    @Option(help: ArgumentHelp("The environment variable holding that role's password.", valueName: "variable"))
    var appRolePasswordEnv = "CRUDDUR_APP_ROLE_PASSWORD"

    @Flag(help: "The role signs in with IAM authentication tokens (DB_AUTH=iam) instead of a password: grant it rds_iam.")
    var iam = false

    func validate() throws {
        if iam && appRole == nil { throw ValidationError("--iam applies to --app-role") }
        if let appRole, !DatabaseAdministration.isPlainIdentifier(appRole) {
            throw ValidationError("--app-role must be lowercase letters, digits and underscores, starting with a letter or underscore")
        }
    }

    /// Creates or updates the role when asked; the password comes from the environment, never argv.
    func apply(on connection: PostgresConnection, database: String, logger: Logger) async throws {
        guard let appRole else { return }
        let password = ProcessInfo.processInfo.environment[appRolePasswordEnv].flatMap { $0.isEmpty ? nil : $0 }
        guard iam || password != nil else {
            throw CommandFailure("--app-role needs the role's password in the environment variable \(appRolePasswordEnv) (or --iam)")
        }
        try await DatabaseAdministration(logger: logger).ensureApplicationRole(
            appRole, password: iam ? nil : password, iam: iam, database: database, on: connection)
        print("Application role \(appRole) may read and write Cruddur's tables in \(database) (no DDL)\(iam ? "; it signs in with IAM tokens" : "")")
    }
}
