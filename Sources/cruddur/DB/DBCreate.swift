import ArgumentParser
import CruddurDatabase

/// `cruddur db create` (seed: `bin/db-create`).
struct DBCreate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "Create the target's database.")

    @OptionGroup var target: TargetOptions

    func run() async throws {
        try await target.withOpened { opened, logger in
            try await DatabaseAdministration(logger: logger).create(opened.settings)
            print("Created database \(opened.settings.database)")
        }
    }
}
