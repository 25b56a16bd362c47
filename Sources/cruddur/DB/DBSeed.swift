import ArgumentParser
import CruddurDatabase

/// `cruddur db seed` (seed: `bin/db-seed`): the seed's mock users and activity, idempotently.
struct DBSeed: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "seed", abstract: "Load the seed data (idempotent).")

    @OptionGroup var target: TargetOptions
    @OptionGroup var confirmation: ProductionConfirmation

    func run() async throws {
        try await target.withOpened { opened, logger in
            try await confirmation.check(opened, action: "load mock seed users", logger: logger)
            try await opened.withConnection(logger: logger, operation: "seeding") { connection in
                try await SeedData.load(on: connection, logger: logger)
            }
            print("Seed data loaded into \(opened.settings.database)")
        }
    }
}
