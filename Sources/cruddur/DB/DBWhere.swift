import ArgumentParser
import CruddurDatabase
import CruddurLocalPostgres
import Foundation

/// `cruddur db where`: where the target database is, without starting anything (for scripts such as
/// scripts/bench and scripts/soak, which must not guess the local cluster's layout).
struct DBWhere: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "where",
        abstract: "Print where the target database is (the local cluster's folders and socket, or the URL), without a password."
    )

    @Flag(help: "Print JSON: {kind, url, database, and for the local cluster data_directory, socket_directory, port}.")
    var json = false

    @Flag(help: "Act on PROD_CONNECTION_URL (the RDS database).")
    var prod = false

    func run() async throws {
        try await reportingFailures {
            var fields: [String: Any]
            switch try DatabaseTarget.resolve(production: prod) {
            case .url(let settings, let source, _):
                fields = ["kind": "url", "source": source, "url": settings.libpqURL, "database": settings.database]
            case .localCluster:
                let cluster = try await LocalCluster.forProject()
                let settings = cluster.connectionSettings(database: "cruddur")
                fields = [
                    "kind": "local-cluster", "url": settings.libpqURL, "database": settings.database,
                    "data_directory": cluster.layout.dataDirectory, "socket_directory": cluster.layout.socketDirectory,
                    "port": cluster.serverPort,
                ]
            }
            if json {
                let data = try JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            } else {
                for key in fields.keys.sorted() { print("\(key): \(fields[key]!)") }
            }
        }
    }
}
