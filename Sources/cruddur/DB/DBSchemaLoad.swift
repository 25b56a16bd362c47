import ArgumentParser
import CruddurDatabase

/// `cruddur db schema-load` (seed: `bin/db-schema-load [prod]`): an empty database to the latest schema.
struct DBSchemaLoad: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema-load",
        abstract: "Load the latest schema into an empty database (--force drops Cruddur's tables first)."
    )

    @OptionGroup var target: TargetOptions
    @OptionGroup var confirmation: ProductionConfirmation

    @Flag(help: "Drop Cruddur's tables (and their data) and load the schema afresh.")
    var force = false

    func run() async throws {
        try await target.withOpened { opened, logger in
            if force {
                try await confirmation.check(opened, action: "drop and reload the schema", logger: logger)
            }
            let force = self.force
            let database = opened.settings.database
            let applied = try await opened.withConnection(logger: logger, operation: "loading the schema") { connection in
                let administration = DatabaseAdministration(logger: logger)
                let tables = try await administration.publicTables(on: connection)
                if !tables.isEmpty {
                    guard force else {
                        throw CommandFailure(
                            "database \(database) already has tables (\(tables.joined(separator: ", "))); use `db migrate`, or --force to drop and reload"
                        )
                    }
                    try await MigrationRunner(logger: logger).revertAll(on: connection)
                }
                return try await MigrationRunner(logger: logger).migrate(on: connection)
            }
            print("Loaded the schema into \(opened.settings.database) (\(applied.count) migration(s))")
        }
    }
}
