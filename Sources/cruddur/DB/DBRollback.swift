import ArgumentParser
import CruddurDatabase

/// `cruddur db rollback [--steps N]`: reverts the last N applied migrations.
struct DBRollback: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rollback", abstract: "Revert the last applied migration(s).")

    @OptionGroup var target: TargetOptions
    @OptionGroup var confirmation: ProductionConfirmation

    @Option(help: "How many migrations to revert.")
    var steps = 1

    func validate() throws {
        guard (1...1000).contains(steps) else { throw ValidationError("--steps must be from 1 to 1000") }
    }

    func run() async throws {
        try await target.withOpened { opened, logger in
            try await confirmation.check(opened, action: "roll back migrations", logger: logger)
            let steps = self.steps
            let reverted = try await opened.withConnection(logger: logger, operation: "rolling back") { connection in
                try await MigrationRunner(logger: logger).rollback(steps: steps, on: connection)
            }
            if reverted.isEmpty {
                print("No applied migrations to revert")
            }
            for migration in reverted {
                print("Reverted \(migration.version)_\(migration.name)")
            }
        }
    }
}
