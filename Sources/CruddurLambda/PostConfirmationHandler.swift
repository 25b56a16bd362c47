import CruddurDatabase
import CruddurDomain
import Foundation
import Logging

/// The Cognito post-confirmation trigger: validates the event, upserts the user, returns the event unchanged.
public struct PostConfirmationHandler: Sendable {
    /// How long one invocation may spend on the database, connecting included: well inside Cognito's 5 seconds.
    public static let defaultBudget: Duration = .milliseconds(3_500)

    let repository: CognitoUserRepository
    let logger: Logger
    let budget: Duration

    public init(repository: CognitoUserRepository, logger: Logger, budget: Duration = Self.defaultBudget) {
        self.repository = repository
        self.logger = logger
        self.budget = budget
    }

    /// What one invocation did, for logs and `cruddur lambda invoke`.
    public enum Result: Sendable, Equatable {
        case stored(CognitoUserRepository.Outcome, cognitoUserID: String, handle: String)
        case ignored(triggerSource: String)
    }

    /// Handles one event. Returns the event's own bytes (Cognito expects the event back) and what was done;
    /// throws a ``LambdaFunctionError`` that says what failed.
    public func handle(_ event: [UInt8], context: InvocationContext) async throws(LambdaFunctionError) -> (response: [UInt8], result: Result) {
        var logger = logger
        logger[metadataKey: "requestID"] = "\(context.requestID)"
        let parsed: PostConfirmationEvent
        do {
            parsed = try PostConfirmationEvent.parse(event)
        } catch {
            logger.error("Rejected the post-confirmation event", metadata: ["reason": "\(error)"])
            throw LambdaFunctionError(error)
        }
        switch parsed {
        case .ignored(let triggerSource):
            logger.info("Ignored an event of another trigger source", metadata: ["triggerSource": "\(triggerSource)"])
            return (event, .ignored(triggerSource: triggerSource))
        case .confirmation(let triggerSource, let userPoolID, let user):
            logger[metadataKey: "triggerSource"] = "\(triggerSource)"
            logger[metadataKey: "userPoolID"] = "\(userPoolID)"
            logger[metadataKey: "sub"] = "\(user.cognitoUserID)"
            logger[metadataKey: "handle"] = "\(user.handle)"
            let outcome: CognitoUserRepository.Outcome
            do {
                outcome = try await store(user, within: context.budget(capping: budget), logger: logger)
            } catch {
                logger.error("Could not store the confirmed user", metadata: ["error": "\(error)"])
                throw LambdaFunctionError(error)
            }
            logger.info("Stored the confirmed user", metadata: ["outcome": "\(outcome)"])
            return (event, .stored(outcome, cognitoUserID: user.cognitoUserID, handle: user.handle))
        }
    }

    /// The upsert is idempotent, so a connection lost between invocations (the environment was frozen, the server
    /// closed it) is retried once, inside the same budget.
    private func store(_ user: CognitoUser, within budget: Duration, logger: Logger) async throws -> CognitoUserRepository.Outcome {
        try await withDeadline(budget, operation: "storing a confirmed Cognito user") { [repository] in
            do {
                return try await repository.upsert(user, deadline: budget)
            } catch let error as DatabaseError where error.isUnavailable && !Task.isCancelled {
                logger.warning("Lost the database connection; retrying once", metadata: ["error": "\(error)"])
                return try await repository.upsert(user, deadline: budget)
            }
        }
    }
}

/// The facts about one invocation that the Runtime API gives.
public struct InvocationContext: Sendable {
    public let requestID: String
    /// When Lambda stops waiting (`Lambda-Runtime-Deadline-Ms`), if known.
    public let deadline: Date?

    public init(requestID: String, deadline: Date? = nil) {
        self.requestID = requestID
        self.deadline = deadline
    }

    /// The handler's budget, shortened when Lambda's own deadline is nearer (keeping a moment to report back).
    func budget(capping budget: Duration) -> Duration {
        guard let deadline else { return budget }
        let remaining = Duration.milliseconds(Int64((deadline.timeIntervalSinceNow * 1000).rounded(.down))) - .milliseconds(250)
        return max(.milliseconds(100), min(budget, remaining))
    }
}

/// A failed invocation as Lambda records it: `errorType` and `errorMessage`.
///
/// Cognito shows `errorMessage` to the client that signed up, so it names the failure class only: what the event
/// lacks, or that the username is taken, or a fixed sentence. Database and internal details (host names, addresses,
/// server messages) go to the function's log, never into it.
public struct LambdaFunctionError: Error, Equatable, Sendable, CustomStringConvertible {
    public let errorType: String
    public let errorMessage: String

    public init(errorType: String, errorMessage: String) {
        self.errorType = errorType
        self.errorMessage = errorMessage
    }

    init(_ error: InvalidEventError) {
        self.init(errorType: "Cruddur.InvalidEvent", errorMessage: error.description)
    }

    init(_ error: any Error) {
        switch error {
        case let error as InvalidEventError:
            self.init(error)
        case let error as CognitoUserRepositoryError:
            self.init(errorType: "Cruddur.HandleTaken", errorMessage: error.description)
        case let error as DatabaseError where error.isUnavailable:
            self.init(errorType: "Cruddur.DatabaseUnavailable", errorMessage: "the user database is not answering; try again shortly")
        case is DatabaseError:
            self.init(errorType: "Cruddur.DatabaseError", errorMessage: "the user could not be stored")
        default:
            self.init(errorType: "Cruddur.InternalError", errorMessage: "the sign-up could not be completed")
        }
    }

    public var description: String { "\(errorType): \(errorMessage)" }
}
