import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO

/// A database operation that failed, described in one line without secrets or query parameters.
/// An error of Cruddur's own: it already describes itself in one human line, so it is never re-wrapped.
public protocol CruddurError: Error, CustomStringConvertible {}

public enum DatabaseError: CruddurError {
    /// The server could not be reached, or did not answer within the deadline.
    case unavailable(operation: String, reason: String)
    /// The server answered with an error.
    case server(operation: String, sqlState: String, message: String)
    /// A row did not have the expected shape.
    case unexpectedResult(operation: String, reason: String)

    public var description: String {
        switch self {
        case .unavailable(let operation, let reason):
            "database unavailable during \(operation): \(reason)"
        case .server(let operation, let sqlState, let message):
            "database error during \(operation): \(message) (SQLSTATE \(sqlState))"
        case .unexpectedResult(let operation, let reason):
            "unexpected database result during \(operation): \(reason)"
        }
    }

    /// True for failures that retrying later may fix (connection loss, shutdown, timeouts).
    public var isUnavailable: Bool {
        switch self {
        case .unavailable: true
        case .server(_, let sqlState, _):
            // 08: connection exception, 57P: operator intervention (shutdown), 53: insufficient resources.
            sqlState.hasPrefix("08") || sqlState.hasPrefix("57P") || sqlState.hasPrefix("53")
        case .unexpectedResult: false
        }
    }

    /// A constant name of the failure's kind, for a span's `error.type`: the SQLSTATE, or `unavailable` /
    /// `unexpected_result` (never the message, which may quote data).
    public var errorType: String {
        switch self {
        case .unavailable: "unavailable"
        case .server(_, let sqlState, _): sqlState
        case .unexpectedResult: "unexpected_result"
        }
    }

    /// The SQLSTATE the server sent, if any.
    public var sqlState: String? {
        if case .server(_, let sqlState, _) = self { return sqlState }
        return nil
    }

    /// Converts any error thrown by PostgresNIO (or a deadline) into a `DatabaseError`.
    public static func wrap(_ error: any Error, operation: String) -> DatabaseError {
        switch error {
        case let error as DatabaseError:
            return error
        case let error as PSQLError:
            if let serverInfo = error.serverInfo {
                return .server(
                    operation: operation,
                    sqlState: serverInfo[.sqlState] ?? "XX000",
                    message: serverInfo[.message] ?? "unknown server error"
                )
            }
            return .unavailable(operation: operation, reason: describe(error))
        case is CancellationError:
            return .unavailable(operation: operation, reason: "cancelled")
        default:
            return .unavailable(operation: operation, reason: String(describing: error))
        }
    }

    /// Why a connection could not be opened, in one line without secrets (the server's message when it sent one).
    static func connectionFailureReason(_ error: any Error) -> String {
        switch wrap(error, operation: "connecting") {
        case .unavailable(_, let reason): reason
        case .server(_, let sqlState, let message): "\(message) (SQLSTATE \(sqlState))"
        case .unexpectedResult(_, let reason): reason
        }
    }

    /// Errors from PostgresNIO, its pool and NIO as `DatabaseError`; Cruddur's own errors pass through unchanged.
    /// A transaction whose body threw and rolled back cleanly is reported as what the body threw.
    public static func translate(_ error: any Error, operation: String) -> any Error {
        if let transaction = error as? PostgresTransactionError, let closureError = transaction.closureError,
            transaction.beginError == nil, transaction.rollbackError == nil, transaction.commitError == nil
        {
            return translate(closureError, operation: operation)
        }
        return error is any CruddurError ? error : wrap(error, operation: operation)
    }

    /// A certificate the client refused, in words an operator can act on (sslmode, sslrootcert).
    private static func describeTLSFailure(_ error: any Error) -> String? {
        if let extra = error as? NIOSSLExtraError, extra == .failedToValidateHostname {
            return "the server's TLS certificate does not name this host (sslmode=verify-full checks it; connect by the name in the certificate)"
        }
        guard let tls = error as? NIOSSLError else { return nil }
        if case .handshakeFailed(let reason) = tls, String(describing: reason).contains("CERTIFICATE_VERIFY_FAILED") {
            return "the server's TLS certificate is not signed by a CA in sslrootcert (for RDS, use its CA bundle)"
        }
        return "the TLS handshake failed (\(tls))"
    }

    private static func describe(_ error: PSQLError) -> String {
        switch error.code {
        case .connectionError:
            if let underlying = error.underlying, let tls = describeTLSFailure(underlying) {
                return tls
            }
            let underlying = error.underlying.map { String(describing: $0) } ?? "connection failed"
            return "cannot connect (\(underlying))"
        case .serverClosedConnection, .uncleanShutdown:
            return "the server closed the connection"
        case .clientClosedConnection, .poolClosed:
            return "the connection pool is closed"
        case .sslUnsupported:
            return "the server does not support TLS, which sslmode requires"
        case .failedToAddSSLHandler:
            return "TLS could not be set up"
        case .unsupportedAuthMechanism, .authMechanismRequiresPassword:
            return "the server asked for a password and none was given (set it in the URL's environment variable, PGPASSWORD or ~/.pgpass)"
        default:
            if let underlying = error.underlying {
                return String(describing: underlying)
            }
            return "\(error.code)"
        }
    }
}

/// Runs `operation`, and gives up with `DatabaseError.unavailable` when it takes longer than `deadline`.
///
/// PostgresNIO waits for a connection indefinitely when the server is unreachable; every call goes through here.
/// The caller gets its answer at the deadline even if the operation does not react to cancellation at once
/// (a task group would wait for it): the operation is cancelled and left to finish in the background.
///
/// The deadline is a task scheduled on one of NIO's event loops (a heap entry, cancelled when the operation ends
/// first), not a sleeping task: a timer task per call cost a task and a dispatch timer, ~5 % of the server's CPU on
/// `/api/health`.
public func withDeadline<Result: Sendable>(
    _ deadline: Duration,
    operation name: String,
    _ operation: @escaping @Sendable () async throws -> Result
) async throws -> Result {
    let race = DeadlineRace<Result>()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { continuation in
            race.start(
                continuation: continuation,
                work: Task {
                    do {
                        race.finish(.success(try await operation()))
                    } catch {
                        race.finish(.failure(DatabaseError.translate(error, operation: name)))
                    }
                },
                timer: MultiThreadedEventLoopGroup.singleton.any().scheduleTask(in: TimeAmount(deadline)) {
                    race.finish(.failure(DatabaseError.unavailable(operation: name, reason: "no answer within \(deadline.formattedSeconds)")))
                }
            )
        }
    } onCancel: {
        race.finish(.failure(DatabaseError.unavailable(operation: name, reason: "cancelled")))
    }
}

/// The first of the operation, the timer and cancellation to finish answers the caller; the others are cancelled.
private final class DeadlineRace<Result: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<Result, any Error>?
        var outcome: Swift.Result<Result, any Error>?
        var work: Task<Void, Never>?
        var timer: Scheduled<Void>?
    }

    private let state = NIOLockedValueBox(State())

    func start(continuation: CheckedContinuation<Result, any Error>, work: Task<Void, Never>, timer: Scheduled<Void>) {
        let outcome: Swift.Result<Result, any Error>? = state.withLockedValue { state in
            guard let outcome = state.outcome else {
                state.continuation = continuation
                state.work = work
                state.timer = timer
                return nil
            }
            return outcome
        }
        if let outcome {
            work.cancel()
            timer.cancel()
            continuation.resume(with: outcome)
        }
    }

    func finish(_ outcome: Swift.Result<Result, any Error>) {
        let (continuation, work, timer) = state.withLockedValue { state in
            guard state.outcome == nil else {
                return (nil, nil, nil) as (CheckedContinuation<Result, any Error>?, Task<Void, Never>?, Scheduled<Void>?)
            }
            state.outcome = outcome
            // Drop every reference the race holds (the task and the timer capture the race): nothing outlives the call.
            defer {
                state.continuation = nil
                state.work = nil
                state.timer = nil
            }
            return (state.continuation, state.work, state.timer)
        }
        guard let continuation else { return }
        work?.cancel()
        timer?.cancel()
        continuation.resume(with: outcome)
    }
}

extension Duration {
    var formattedSeconds: String {
        let (seconds, attoseconds) = components
        let milliseconds = attoseconds / 1_000_000_000_000_000
        return milliseconds == 0 ? "\(seconds) s" : "\(seconds).\(String(format: "%03d", Int(milliseconds))) s"
    }
}
