import ArgumentParser
import CruddurDatabase

/// `cruddur db create` (seed: `bin/db-create`).
struct DBCreate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "Create the target's database.")

    @OptionGroup var target: TargetOptions

    func run() async throws {
        try await reportingFailures {
            let logger = makeCommandLogger()
            let opened = try await target.open(logger: logger)
            defer { opened.close(logger: logger) }
            try await DatabaseAdministration(logger: logger).create(opened.settings)
            print("Created database \(opened.settings.database)")
        }
    }
}
