import ArgumentParser
import CruddurDatabase
import CruddurLambda
import Foundation
import Logging

/// `cruddur lambda invoke --event event.json`: runs the post-confirmation handler once, as Lambda would.
struct LambdaInvoke: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "invoke",
        abstract: "Run the post-confirmation handler once on an event file, against CONNECTION_URL or the local cluster.",
        discussion: "Prints the function's response (the event itself) on stdout; a failure is one line on stderr and exit code 1."
    )

    /// Lambda's limit on a synchronous payload.
    static let maximumEventSize = 6 * 1024 * 1024

    @Option(help: ArgumentHelp("A JSON file holding a Cognito post-confirmation event.", valueName: "file"))
    var event: String

    func validate() throws {
        guard !event.isEmpty else { throw ValidationError("--event needs a file name") }
    }

    func run() async throws {
        try await reportingFailures {
            let logger = makeCommandLogger()
            let bytes = try Self.readEvent(event)
            let outcome = try await OpenedTarget.with(try DatabaseTarget.resolve(), preparing: true, logger: logger) { database in
                try await Self.invoke(bytes, on: database.settings, logger: logger)
            }
            FileHandle.standardOutput.write(Data(outcome.response + [UInt8(ascii: "\n")]))
            writeToStandardError("cruddur: \(Self.summary(outcome.result))\n")
        }
    }

    /// Runs the handler once on `settings` with a one-connection pool.
    static func invoke(
        _ bytes: [UInt8], on settings: ConnectionSettings, logger: Logger
    ) async throws -> (response: [UInt8], result: PostConfirmationHandler.Result) {
        let pool = try DatabasePool(settings: settings.with(applicationName: "cruddur-lambda-invoke"), size: 1, logger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await pool.run() }
            defer { group.cancelAll() }
            // The failure is the command's one line on stderr; the handler's own log lines only when LOG_LEVEL asks.
            var handlerLogger = logger
            if ProcessInfo.processInfo.environment["LOG_LEVEL"] == nil { handlerLogger.logLevel = .critical }
            let handler = PostConfirmationHandler(
                repository: CognitoUserRepository(pool: pool, logger: logger), logger: handlerLogger
            )
            return try await handler.handle(bytes, context: InvocationContext(requestID: "local-\(UUID().uuidString.lowercased())"))
        }
    }

    static func readEvent(_ path: String) throws -> [UInt8] {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
            attributes[.type] as? FileAttributeType == .typeRegular,
            let data = FileManager.default.contents(atPath: path)
        else {
            throw CommandFailure("cannot read the event file '\(path)'")
        }
        guard data.count <= maximumEventSize else {
            throw CommandFailure("the event file '\(path)' is larger than Lambda's 6 MiB payload limit")
        }
        return Array(data)
    }

    static func summary(_ result: PostConfirmationHandler.Result) -> String {
        switch result {
        case .ignored(let triggerSource):
            "ignored an event of trigger source '\(triggerSource)'; nothing stored"
        case .stored(.created(let uuid), let sub, let handle):
            "created user \(uuid) (handle \(handle), Cognito sub \(sub))"
        case .stored(.updated(let uuid), let sub, let handle):
            "updated user \(uuid) (handle \(handle), Cognito sub \(sub))"
        case .stored(.unchanged, let sub, let handle):
            "user with Cognito sub \(sub) (handle \(handle)) already up to date; nothing written"
        }
    }
}
