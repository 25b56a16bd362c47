import ArgumentParser
import Foundation

/// The `cruddur` command: the API server and the tools around its database, RDS and Lambda.
@main
struct Cruddur: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cruddur",
        abstract: "Cruddur: ephemeral micro-blogging on PostgreSQL.",
        subcommands: [ServeCommand.self, DBCommand.self, RDSCommand.self, LambdaCommand.self]
    )

    /// Parses and runs the subcommand; a usage error is one line on stderr and exit code 64.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if command is ServeCommand {
                ServeCommand.tuneProcess()
            }
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
