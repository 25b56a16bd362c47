import CruddurDatabase
import Foundation
import Logging

/// The post-confirmation function's process: reads its configuration, makes the database pool once per
/// execution environment, and serves invocations from the Runtime API until the API stops answering.
public enum PostConfirmationRuntime {
    public static let applicationName = "cruddur-post-confirmation"

    /// Runs the function; returns the process's exit status. Failures to start are reported to `init/error`.
    public static func main(environment: [String: String], logger: Logger) async -> Int32 {
        guard let endpoint = environment["AWS_LAMBDA_RUNTIME_API"], !endpoint.isEmpty else {
            logger.critical("AWS_LAMBDA_RUNTIME_API is not set: this program runs inside AWS Lambda (use `cruddur lambda invoke` locally)")
            return 1
        }
        let api: RuntimeAPIClient
        do {
            api = try RuntimeAPIClient(endpoint: endpoint)
        } catch {
            logger.critical("Cannot use the Lambda Runtime API", metadata: ["error": "\(error)"])
            return 1
        }
        let pool: DatabasePool
        do {
            let settings = try LambdaConfiguration(environment: environment).settings
            // Lambda hands an execution environment one event at a time: one connection serves it.
            pool = try DatabasePool(settings: settings, size: 1, logger: logger)
            logger.info("Post-confirmation function started", metadata: ["database": "\(settings)"])
        } catch {
            let failure = LambdaFunctionError(errorType: "Cruddur.InvalidConfiguration", errorMessage: String(describing: error))
            logger.critical("The function cannot start", metadata: ["error": "\(failure.errorMessage)"])
            do {
                try await api.reportInitError(failure)
            } catch {
                logger.error("Could not report the start-up failure", metadata: ["error": "\(error)"])
            }
            return 1
        }
        let repository = CognitoUserRepository(pool: pool, logger: logger)
        let loop = InvocationLoop(api: api, handler: PostConfirmationHandler(repository: repository, logger: logger), logger: logger)
        return await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await pool.run() }
            defer { group.cancelAll() }
            do {
                try await loop.run()
                return 0
            } catch {
                logger.critical("The Lambda Runtime API stopped serving events", metadata: ["error": "\(error)"])
                return 1
            }
        }
    }
}

/// The function's settings from its environment.
public struct LambdaConfiguration: Sendable {
    /// The connect timeout is capped so that connecting fits in an invocation's budget.
    public static let maximumConnectTimeout: Duration = .seconds(3)

    public let settings: ConnectionSettings

    /// Reads `CONNECTION_URL` (required: a Lambda has no local cluster).
    public init(environment: [String: String]) throws(LambdaConfigurationError) {
        guard let url = environment["CONNECTION_URL"], !url.isEmpty else { throw .missingConnectionURL }
        var settings: ConnectionSettings
        do {
            settings = try ConnectionSettings(url: url, environment: environment)
            _ = try settings.clientConfiguration()
        } catch {
            throw .invalidConnectionURL(String(describing: error))
        }
        settings.connectTimeout = min(settings.connectTimeout, Self.maximumConnectTimeout)
        if settings.applicationName == nil { settings.applicationName = PostConfirmationRuntime.applicationName }
        self.settings = settings
    }
}

/// The function's configuration cannot be used; says what to fix, without secrets.
public enum LambdaConfigurationError: Error, Equatable, Sendable, CustomStringConvertible {
    case missingConnectionURL
    case invalidConnectionURL(String)

    public var description: String {
        switch self {
        case .missingConnectionURL: "CONNECTION_URL is not set: give the function the database URL in its environment"
        case .invalidConnectionURL(let reason): "CONNECTION_URL: \(reason)"
        }
    }
}

/// Serves events one after another: `next`, handle, then `response` or `error`.
public struct InvocationLoop: Sendable {
    let api: RuntimeAPIClient
    let handler: PostConfirmationHandler
    let logger: Logger

    public init(api: RuntimeAPIClient, handler: PostConfirmationHandler, logger: Logger) {
        self.api = api
        self.handler = handler
        self.logger = logger
    }

    /// Runs until the Runtime API fails (Lambda then restarts the environment) or the task is cancelled.
    public func run() async throws(RuntimeAPIError) {
        while !Task.isCancelled {
            let invocation = try await api.next()
            let context = InvocationContext(requestID: invocation.requestID, deadline: invocation.deadline)
            do {
                let (response, _) = try await handler.handle(invocation.body, context: context)
                try await api.respond(requestID: invocation.requestID, body: response)
            } catch let error as LambdaFunctionError {
                try await api.reportError(requestID: invocation.requestID, error)
            } catch let error as RuntimeAPIError {
                throw error
            } catch {
                logger.error("The invocation failed", metadata: ["requestID": "\(invocation.requestID)", "error": "\(error)"])
                try await api.reportError(requestID: invocation.requestID, LambdaFunctionError(error))
            }
        }
    }
}
