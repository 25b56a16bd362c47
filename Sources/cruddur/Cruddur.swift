import ArgumentParser
import CruddurDomain
import Foundation

/// The `cruddur` command: the API server and the tools around its database, RDS and Lambda.
@main
struct Cruddur: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cruddur",
        abstract: "Cruddur: ephemeral micro-blogging on PostgreSQL.",
        discussion: """
            People post short activities that expire after a time to live; Cruddur keeps them in PostgreSQL, \
            locally or on Amazon RDS. `cruddur serve` runs the HTTP API and its web page (on a private local \
            PostgreSQL when CONNECTION_URL is unset) and `health` checks a running one; `db` manages the database, \
            `rds` the RDS instance, and `lambda` the Cognito post-confirmation function that adds confirmed users.

            Exit codes: 0 success, 1 failure (one line on stderr), 64 bad usage; `db status --exit-code` \
            exits 1 when a migration is pending; `db connect` exits with psql's own code.
            """,
        version: CruddurRelease.version,
        subcommands: [ServeCommand.self, HealthCommand.self, DBCommand.self, RDSCommand.self, LambdaCommand.self]
    )

    /// Parses and runs the subcommand; a usage error is one line on stderr and exit code 64.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            if error is ExitCode || code == .success {
                exit(withError: error)
            }
            let message = message(for: error).split(whereSeparator: \.isNewline).joined(separator: " ")
            writeToStandardError("cruddur: \(message) (see --help)\n")
            Foundation.exit(code.rawValue)
        }
    }
}
