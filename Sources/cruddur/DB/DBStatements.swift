import ArgumentParser
import CruddurDatabase
import Foundation

/// `cruddur db statements`: the hot paths' SQL exactly as the server prepares it (for pgbench and EXPLAIN).
struct DBStatements: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "statements",
        abstract: "Print the SQL the server prepares for the feed and posting (for pgbench and EXPLAIN)."
    )

    @Flag(help: "Print JSON: [{name, parameters, sql}].")
    var json = false

    func run() async throws {
        if json {
            let entries = PreparedStatementCatalog.hotPaths.map { ["name": $0.name, "parameters": $0.parameters, "sql": $0.sql] as [String: Any] }
            let data = try JSONSerialization.data(withJSONObject: entries, options: [.prettyPrinted, .sortedKeys])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        for entry in PreparedStatementCatalog.hotPaths {
            let parameters = entry.parameters.enumerated().map { "$\($0.offset + 1) = \($0.element)" }.joined(separator: ", ")
            print("-- \(entry.name): \(parameters)\n\(entry.sql);\n")
        }
    }
}
