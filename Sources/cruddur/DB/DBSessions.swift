import ArgumentParser
import CruddurDatabase

/// `cruddur db sessions` (seed: `bin/db-sessions`): who is connected, from `pg_stat_activity`.
struct DBSessions: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sessions", abstract: "Show the server's connections (pg_stat_activity).")

    @OptionGroup var target: TargetOptions

    func run() async throws {
        try await target.withOpened { opened, logger in
            let maintenance = opened.settings.with(database: DatabaseAdministration.maintenanceDatabase)
            let sessions = try await Database.withConnection(maintenance, logger: logger, operation: "listing sessions") { connection in
                try await DatabaseAdministration(logger: logger).sessions(on: connection)
            }
            print(
                Table(
                    header: ["process_id", "user", "db", "client_addr", "app", "state"],
                    rows: sessions.map {
                        [String($0.processID), $0.user ?? "", $0.database ?? "", $0.clientAddress ?? "", $0.application ?? "", $0.state ?? ""]
                    }
                ).rendered)
        }
    }
}
