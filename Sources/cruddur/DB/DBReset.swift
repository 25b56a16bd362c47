import ArgumentParser
import CruddurDatabase

/// `cruddur db reset`: drop + setup.
struct DBReset: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "reset", abstract: "Drop the database, then set it up again.")

    @OptionGroup var target: TargetOptions
    @OptionGroup var confirmation: ProductionConfirmation
    @OptionGroup var appRole: AppRoleOptions

    func run() async throws {
        try await target.withOpened { opened, logger in
            try await confirmation.check(opened, action: "reset the database", logger: logger)
            let administration = DatabaseAdministration(logger: logger)
            if try await administration.exists(opened.settings) {
                try await administration.drop(opened.settings)
                print("Dropped database \(opened.settings.database)")
            }
            try await DBSetup.setUp(opened, appRole: appRole, logger: logger)
        }
    }
}
