import ArgumentParser
import CruddurDatabase

/// `cruddur db status`: each migration, applied or pending.
struct DBStatus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "List migrations as applied or pending.")

    @OptionGroup var target: TargetOptions

    @Flag(help: "Exit with status 1 when any migration is pending.")
    var exitCode = false

    func run() async throws {
        var pending = 0
        try await target.withOpened { opened, logger in
            let statuses = try await opened.withConnection(logger: logger, operation: "reading migration status") { connection in
                try await MigrationRunner(logger: logger).status(on: connection)
            }
            print(
                Table(
                    header: ["version", "name", "state"],
                    rows: statuses.map {
                        [String($0.migration.version), $0.migration.name, $0.isApplied ? "applied" : "pending"]
                    }
                ).rendered)
            pending = statuses.filter { !$0.isApplied }.count
        }
        if exitCode && pending > 0 {
            throw ExitCode.failure
        }
    }
}
