import ArgumentParser
import CruddurDatabase

/// `cruddur db drop` (seed: `bin/db-drop`).
struct DBDrop: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "drop", abstract: "Drop the target's database.")

    @OptionGroup var target: TargetOptions
    @OptionGroup var confirmation: ProductionConfirmation

    func run() async throws {
        try await target.withOpened { opened, logger in
            try await confirmation.check(opened, action: "drop the database", logger: logger)
            try await DatabaseAdministration(logger: logger).drop(opened.settings)
            print("Dropped database \(opened.settings.database)")
        }
    }
}
