import ArgumentParser
import CruddurDatabase
import CruddurDomain
import Foundation

/// `cruddur db feed-cursor --offset N`: the home feed's cursor after the first N live activities, as the API writes
/// it in `Link` (for scripts/bench's deep page, which must not know the token's format).
struct DBFeedCursor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "feed-cursor",
        abstract: "Print the feed cursor that follows the first N live activities (the API's token and the statement's parameters)."
    )

    @OptionGroup var target: TargetOptions

    @Option(help: "How many live activities, newest first, come before the cursor.")
    var offset: Int

    @Flag(help: "Print JSON: {token, created_at, uuid}.")
    var json = false

    func validate() throws {
        guard (1...100_000_000).contains(offset) else { throw ValidationError("--offset must be from 1 to 100000000") }
    }

    func run() async throws {
        try await target.withOpened { opened, logger in
            let offset = self.offset
            let cursor = try await opened.withConnection(logger: logger, operation: "finding a feed position") { connection in
                try await ActivityRepository.cursor(after: offset, on: connection, logger: logger)
            }
            guard let cursor else { throw CommandFailure("the feed has fewer than \(offset) live activities") }
            if json {
                let fields = ["token": cursor.token, "created_at": cursor.createdAt.iso8601, "uuid": cursor.uuid]
                print(String(decoding: try JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]), as: UTF8.self))
            } else {
                print(cursor.token)
            }
        }
    }
}
