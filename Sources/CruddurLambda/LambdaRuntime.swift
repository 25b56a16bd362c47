import CruddurAWS
import CruddurDatabase
import CruddurTracing
import Foundation
import Logging
import Tracing

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
        var traceExport: TraceExport?
        do {
            let settings = try LambdaConfiguration(environment: environment).settings
            if let traces = try TraceSettings.fromEnvironment(environment, defaultServiceName: applicationName) {
                // Batches leave 20 ms after a span ends, so that an invocation can wait for its own (at most
                // ``InvocationLoop/maximumFlushWait``) before it answers and Lambda freezes the process.
                traceExport = try TraceExport.bootstrap(traces, scheduleDelay: .milliseconds(20), logger: logger)
            }
            // Lambda hands an execution environment one event at a time: one connection serves it.
            pool = try DatabasePool(settings: settings, size: 1, logger: logger, traced: traceExport != nil)
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
        let loop = InvocationLoop(
            api: api, handler: PostConfirmationHandler(repository: repository, logger: logger), logger: logger, traceExport: traceExport)
        return await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await pool.run() }
            if let traceExport { group.addTask { try? await traceExport.service.run() } }
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

    /// Reads `CONNECTION_URL` (required: a Lambda has no local cluster) and `DB_AUTH` (`iam`: a token per connection,
    /// signed with the function's role credentials).
    public init(environment: [String: String]) throws(LambdaConfigurationError) {
        guard let url = environment["CONNECTION_URL"], !url.isEmpty else { throw .missingConnectionURL }
        var settings: ConnectionSettings
        do {
            settings = try DatabaseAuthentication.settings(url: url, source: "CONNECTION_URL", environment: environment)
            _ = try settings.connectionConfiguration()
        } catch let error as DatabaseAuthenticationError {
            throw .invalidAuthentication(error.description)
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
    /// `DB_AUTH` cannot be used with this URL.
    case invalidAuthentication(String)

    public var description: String {
        switch self {
        case .missingConnectionURL: "CONNECTION_URL is not set: give the function the database URL in its environment"
        case .invalidConnectionURL(let reason): "CONNECTION_URL: \(reason)"
        case .invalidAuthentication(let reason): reason
        }
    }
}

/// Serves events one after another: `next`, handle, then `response` or `error`.
public struct InvocationLoop: Sendable {
    /// How long an invocation waits for its spans to leave before it answers (Cognito gives the trigger 5 s).
    public static let maximumFlushWait: Duration = .milliseconds(200)

    let api: RuntimeAPIClient
    let handler: PostConfirmationHandler
    let logger: Logger
    let traceExport: TraceExport?

    public init(api: RuntimeAPIClient, handler: PostConfirmationHandler, logger: Logger, traceExport: TraceExport? = nil) {
        self.api = api
        self.handler = handler
        self.logger = logger
        self.traceExport = traceExport
    }

    /// What one invocation comes to.
    enum Outcome {
        case response([UInt8])
        case failure(LambdaFunctionError)
    }

    /// Runs until the Runtime API fails (Lambda then restarts the environment) or the task is cancelled.
    public func run() async throws(RuntimeAPIError) {
        while !Task.isCancelled {
            let invocation = try await api.next()
            let context = InvocationContext(requestID: invocation.requestID, deadline: invocation.deadline)
            let outcome: Outcome
            if let traceExport {
                let sampled: Bool
                (outcome, sampled) = await traced(invocation.requestID) { await handle(invocation.body, context: context) }
                // Before answering: once it has answered, Lambda may freeze the process with the spans still queued.
                // An invocation the sampler left out has nothing to wait for.
                if sampled { await traceExport.waitForExport(within: Self.maximumFlushWait) }
            } else {
                outcome = await handle(invocation.body, context: context)
            }
            switch outcome {
            case .response(let body): try await api.respond(requestID: invocation.requestID, body: body)
            case .failure(let error): try await api.reportError(requestID: invocation.requestID, error)
            }
        }
    }

    private func handle(_ event: [UInt8], context: InvocationContext) async -> Outcome {
        do {
            let (response, _) = try await handler.handle(event, context: context)
            return .response(response)
        } catch {
            return .failure(error)
        }
    }

    /// The invocation as a server span (FaaS semantic conventions), with the database calls as its children.
    /// Returns the outcome and whether the span is sampled (will be exported).
    private func traced(_ requestID: String, _ body: () async -> Outcome) async -> (Outcome, sampled: Bool) {
        let span = InstrumentationSystem.tracer.startSpan(PostConfirmationRuntime.applicationName, ofKind: .server)
        span.attributes["faas.invocation_id"] = requestID
        span.attributes["faas.trigger"] = "other"
        span.attributes["cloud.provider"] = "aws"
        let outcome = await ServiceContext.withValue(span.context) { await body() }
        if case .failure(let error) = outcome {
            span.attributes["error.type"] = error.errorType
            span.setStatus(SpanStatus(code: .error))
        }
        span.end()
        return (outcome, SpanIdentity(span.context)?.sampled ?? false)
    }
}
