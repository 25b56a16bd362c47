import ArgumentParser
import CruddurDatabase
import Foundation
import Logging
import PostgresNIO

/// `--app-role NAME`: also create a least-privilege login role for the service and the Lambda.
struct AppRoleOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Create or update a login role that may read and write Cruddur's tables but run no DDL.", valueName: "name"))
    var appRole: String?

    @Option(help: ArgumentHelp("The environment variable holding that role's password.", valueName: "variable"))
    var appRolePasswordEnv = "CRUDDUR_APP_ROLE_PASSWORD"

    func validate() throws {
        if let appRole, !DatabaseAdministration.isPlainIdentifier(appRole) {
            throw ValidationError("--app-role must be lowercase letters, digits and underscores, starting with a letter or underscore")
        }
    }

    /// Creates or updates the role when asked; the password comes from the environment, never argv.
    func apply(on connection: PostgresConnection, database: String, logger: Logger) async throws {
        guard let appRole else { return }
        guard let password = ProcessInfo.processInfo.environment[appRolePasswordEnv], !password.isEmpty else {
            throw CommandFailure("--app-role needs the role's password in the environment variable \(appRolePasswordEnv)")
        }
        try await DatabaseAdministration(logger: logger).ensureApplicationRole(appRole, password: password, database: database, on: connection)
        print("Application role \(appRole) may read and write Cruddur's tables in \(database) (no DDL)")
    }
}
