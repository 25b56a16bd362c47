import CruddurDatabase
import CruddurLambda
import Foundation
import Logging
import PostgresNIO

/// A Cognito post-confirmation event as Cognito sends it, with the given user attributes.
func cognitoEvent(
    triggerSource: String = "PostConfirmation_ConfirmSignUp",
    userPoolID: String = "us-east-1_AbCdEf123",
    attributes: [String: Any]
) -> [UInt8] {
    let event: [String: Any] = [
        "version": "1",
        "region": "us-east-1",
        "userPoolId": userPoolID,
        "userName": attributes["sub"] ?? "someone",
        "callerContext": ["awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": "3lq8cnbti4ob9bb6bbi9dgmmsl"],
        "triggerSource": triggerSource,
        "request": ["userAttributes": attributes],
        "response": [String: Any](),
    ]
    return Array(try! JSONSerialization.data(withJSONObject: event, options: [.sortedKeys]))
}

/// The four attributes the trigger needs, for a new user.
func userAttributes(
    sub: String = UUID().uuidString.lowercased(), email: String? = nil, name: String = "Test User", handle: String? = nil
) -> [String: String] {
    let suffix = String(UUID().uuidString.lowercased().prefix(8))
    return [
        "sub": sub,
        "email": email ?? "user-\(suffix)@example.com",
        "email_verified": "true",
        "cognito:user_status": "CONFIRMED",
        "name": name,
        "preferred_username": handle ?? "user-\(suffix)",
    ]
}

/// Runs `body` with a handler and repository on a pool to `settings`; the pool stops afterwards. The budget is
/// generous by default, so that a loaded machine's slow commits do not fail tests about what is stored; the tests about
/// deadlines pass the handler's real one.
func withPostConfirmationHandler<Value: Sendable>(
    _ settings: ConnectionSettings,
    budget: Duration = .seconds(30),
    _ body: @escaping @Sendable (PostConfirmationHandler, CognitoUserRepository) async throws -> Value
) async throws -> Value {
    let pool = try DatabasePool(settings: settings, size: 2, logger: TestPostgres.logger)
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await pool.run() }
        defer { group.cancelAll() }
        let repository = CognitoUserRepository(pool: pool, logger: TestPostgres.logger)
        let handler = PostConfirmationHandler(repository: repository, logger: TestPostgres.logger, budget: budget)
        return try await body(handler, repository)
    }
}

/// `SELECT count(*) FROM users`.
func userCount(_ settings: ConnectionSettings) async throws -> Int {
    try await withTestConnection(settings) { connection in
        let rows = try await connection.query("SELECT count(*)::int8 FROM public.users", logger: TestPostgres.logger).collect()
        return Int(try rows[0].decode(Int64.self))
    }
}

/// The handler's error for an event, or nil when it succeeded.
func handlerError(_ handler: PostConfirmationHandler, _ event: [UInt8]) async -> LambdaFunctionError? {
    do throws(LambdaFunctionError) {
        _ = try await handler.handle(event, context: InvocationContext(requestID: "test"))
        return nil
    } catch {
        return error
    }
}
