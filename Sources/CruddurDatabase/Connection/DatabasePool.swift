import Logging
import NIOConcurrencyHelpers
import NIOCore
import PostgresNIO
import ServiceLifecycle
import Tracing

/// The connections a long-running process (the API, the Lambda) queries through: a fixed number of PostgreSQL
/// connections, each kept open by one task that reconnects with backoff whenever its connection is lost.
///
/// Why not PostgresNIO's `PostgresClient`: in 1.33 a pool whose minimum equals its maximum trips a precondition
/// (`minimumConcurrentConnections <= active`) when connections die while requests wait, which crashed the server on
/// every database restart under load; and a pool with a lower minimum schedules an idle and a keep-alive timer task
/// at each release that outlive the query, so memory grows with the request rate. This pool has neither: its only
/// tasks are one per connection slot for the pool's life, plus the deadline of each call, which ends with the call.
///
/// Guarantees:
/// - every call is bounded by its deadline (waiting for a connection included); a call cancelled while it holds a
///   connection closes that connection, so a silent server cannot keep it leased;
/// - while no connection is open and the latest attempt to open one failed (the server is down or refuses us),
///   calls fail at once with ``DatabaseError/unavailable(operation:reason:)`` instead of waiting;
/// - lost connections are replaced with a capped exponential backoff (20 ms doubling to 500 ms, with jitter),
///   so service resumes within about half a second of the server's return.
public final class DatabasePool: Service, Sendable {
    private let settings: ConnectionSettings
    private let configuration: PostgresConnection.Configuration
    private let size: Int
    private let deadline: Duration
    private let logger: Logger
    private let state: NIOLockedValueBox<State>
    /// Told of every call: its operation name, how long it took (waiting included) and whether it succeeded.
    private let observer: (@Sendable (_ operation: String, _ duration: Duration, _ succeeded: Bool) -> Void)?
    /// The process's tracer, when each call is a client span of it (only when traces are exported: no cost otherwise).
    private let tracer: (any Tracer)?

    static let initialBackoff: Duration = .milliseconds(20)
    static let maximumBackoff: Duration = .milliseconds(500)

    /// A pool of `size` connections; `deadline` bounds each call. Run it (e.g. in a `ServiceGroup`) before querying.
    public init(
        settings: ConnectionSettings, size: Int, deadline: Duration = Database.defaultQueryDeadline, logger: Logger,
        observer: (@Sendable (_ operation: String, _ duration: Duration, _ succeeded: Bool) -> Void)? = nil,
        traced: Bool = false
    ) throws {
        precondition(size > 0, "a pool needs at least one connection")
        self.settings = settings
        self.configuration = try settings.connectionConfiguration()
        self.size = size
        self.deadline = deadline
        self.logger = logger
        self.state = NIOLockedValueBox(State())
        self.observer = observer
        tracer = traced ? InstrumentationSystem.tracer : nil
    }

    /// Runs `body` with a connection of the pool, within `deadline` (the pool's by default) for waiting and running
    /// together. Errors come out as ``DatabaseError`` (or as the body's own ``CruddurError``).
    ///
    /// `statement` names the prepared statement the call runs, for its span (when traces are exported).
    public func withConnection<Result: Sendable>(
        operation: String,
        statement: String? = nil,
        deadline: Duration? = nil,
        _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        guard let tracer else { return try await observed(operation: operation, deadline: deadline, body) }
        // A span per call: what it did, never with what (no parameter values, no SQL text with data).
        let span = tracer.startSpan(statement ?? operation, ofKind: .client)
        if span.isRecording {
            let database = settings.database
            let endpoint = settings.endpoint
            span.updateAttributes { attributes in
                attributes["db.system.name"] = "postgresql"
                attributes["db.operation.name"] = operation
                if let statement { attributes["db.query.summary"] = statement }
                attributes["db.namespace"] = database
                switch endpoint {
                case .tcp(let host, let port):
                    attributes["server.address"] = host
                    attributes["server.port"] = port
                case .unixSocket(_, let port):
                    attributes["server.port"] = port
                }
            }
        }
        defer { span.end() }
        do {
            return try await ServiceContext.$current.withValue(span.context) {
                try await observed(operation: operation, deadline: deadline, body)
            }
        } catch {
            span.updateAttributes { attributes in
                attributes["error.type"] = (error as? DatabaseError)?.errorType ?? "\(type(of: error))"
                if let sqlState = (error as? DatabaseError)?.sqlState { attributes["db.response.status_code"] = sqlState }
            }
            span.setStatus(SpanStatus(code: .error))
            throw error
        }
    }

    private func observed<Result: Sendable>(
        operation: String,
        deadline: Duration?,
        _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        guard let observer else { return try await run(operation: operation, deadline: deadline, body) }
        let started = ContinuousClock.now
        do {
            let result = try await run(operation: operation, deadline: deadline, body)
            observer(operation, .now - started, true)
            return result
        } catch {
            observer(operation, .now - started, false)
            throw error
        }
    }

    private func run<Result: Sendable>(
        operation: String,
        deadline: Duration?,
        _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        try await withDeadline(deadline ?? self.deadline, operation: operation) {
            let connection = try await self.lease(operation: operation)
            do {
                let result = try await withTaskCancellationHandler {
                    try await body(connection)
                } onCancel: {
                    // The deadline passed or the caller left: the connection's state is unknown, so it is not reused.
                    connection.closeInBackground()
                }
                self.release(connection)
                return result
            } catch {
                self.release(connection)
                throw error
            }
        }
    }

    /// Like ``withConnection(operation:deadline:_:)``, for statements that write: runs `body` in a transaction and
    /// returns only once PostgreSQL has answered its `COMMIT`.
    ///
    /// PostgresNIO ends a statement at its CommandComplete, which in the extended query protocol comes *before* an
    /// implicit transaction commits (at Sync). A server that stops in between (a fast shutdown, a failover) or a
    /// commit that fails would give the caller a result for a row that was never committed: `scripts/soak` saw 7
    /// such posts in 26,000 across five restarts. An explicit `COMMIT` is answered only after the commit. (A probe
    /// query after the statement also proves the commit, one round trip cheaper, but it widens the window in which a
    /// committed write is reported as failed: 19 of 20,923 rows in the same soak, against 0 of 22,156 this way.)
    ///
    /// `body` must let statement errors propagate: a `COMMIT` after a swallowed error rolls back without an error.
    public func withCommittedWrite<Result: Sendable>(
        operation: String,
        statement: String? = nil,
        deadline: Duration? = nil,
        _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        try await withConnection(operation: operation, statement: statement, deadline: deadline) { [logger] connection in
            try await connection.query("BEGIN", logger: logger).drain()
            let result: Result
            do {
                result = try await body(connection)
            } catch {
                try? await connection.query("ROLLBACK", logger: logger).drain()
                throw error
            }
            try await connection.query("COMMIT", logger: logger).drain()
            return result
        }
    }

    /// How many connections are open, idle, and how many calls wait for one (for tests and logs).
    public var statistics: Statistics {
        state.withLockedValue { Statistics(open: $0.open, idle: $0.idle.count, waiting: $0.waiters.count) }
    }

    public struct Statistics: Sendable, Equatable {
        public let open: Int
        public let idle: Int
        public let waiting: Int
    }

    /// Keeps `size` connections open until graceful shutdown or cancellation, then closes them and fails any
    /// waiting call. Runs once.
    public func run() async throws {
        let started = state.withLockedValue { state -> Bool in
            guard case .notStarted = state.phase else { return false }
            state.phase = .running
            return true
        }
        guard started else { throw DatabaseError.unavailable(operation: "starting the connection pool", reason: "the pool already ran") }
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                for slot in 0..<self.size {
                    group.addTask { await self.keepConnected(slot: slot) }
                }
            }
        }
        let (waiters, idle) = state.withLockedValue { state in
            state.phase = .closed
            defer {
                state.waiters.removeAll()
                state.idle.removeAll()
            }
            return (state.waiters.all, state.idle)
        }
        for waiter in waiters {
            waiter.continuation.resume(throwing: DatabaseError.unavailable(operation: waiter.operation, reason: "the connection pool is closed"))
        }
        for connection in idle {
            try? await connection.close()
        }
    }

    // MARK: - Leasing

    private func lease(operation: String) async throws -> PostgresConnection {
        let id = state.withLockedValue { state in
            state.nextWaiterID &+= 1
            return state.nextWaiterID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<PostgresConnection, any Error>) in
                let outcome = state.withLockedValue { state -> Swift.Result<PostgresConnection, DatabaseError>? in
                    switch state.phase {
                    case .notStarted, .running:
                        break
                    case .closed:
                        return .failure(.unavailable(operation: operation, reason: "the connection pool is closed"))
                    }
                    while let connection = state.idle.popLast() {
                        if !connection.isClosed { return .success(connection) }
                    }
                    if state.open == 0, let reason = state.lastConnectFailure {
                        return .failure(.unavailable(operation: operation, reason: reason))
                    }
                    // Checked under the lock that the cancellation handler also takes: a waiter is never left behind.
                    if Task.isCancelled {
                        return .failure(.unavailable(operation: operation, reason: "cancelled"))
                    }
                    state.waiters.append(Waiter(id: id, operation: operation, continuation: continuation))
                    return nil
                }
                switch outcome {
                case .success(let connection)?: continuation.resume(returning: connection)
                case .failure(let error)?: continuation.resume(throwing: error)
                case nil: break
                }
            }
        } onCancel: {
            if let waiter = state.withLockedValue({ $0.waiters.remove(id: id) }) {
                waiter.continuation.resume(throwing: DatabaseError.unavailable(operation: waiter.operation, reason: "cancelled"))
            }
        }
    }

    /// Gives a connection back: to the longest-waiting call, or to the idle stack. A closed one is dropped (its slot
    /// is already replacing it).
    private func release(_ connection: PostgresConnection) {
        if Task.isCancelled {
            connection.closeInBackground()
            return
        }
        guard !connection.isClosed else { return }
        offer(connection)
    }

    private func offer(_ connection: PostgresConnection) {
        let (waiter, close) = state.withLockedValue { state -> (Waiter?, Bool) in
            guard case .closed = state.phase else {
                if let waiter = state.waiters.popFirst() { return (waiter, false) }
                state.idle.append(connection)
                return (nil, false)
            }
            return (nil, true)
        }
        if close { connection.closeInBackground() }
        waiter?.continuation.resume(returning: connection)
    }

    // MARK: - Slots

    /// One slot: open a connection, lend it out until it closes, open the next; back off while opening fails.
    private func keepConnected(slot: Int) async {
        var backoff = Self.initialBackoff
        var connectionID = slot
        while !Task.isCancelled {
            let connection: PostgresConnection
            do {
                connection = try await connect(id: connectionID)
                connectionID += size
            } catch {
                if Task.isCancelled { return }
                let reason = DatabaseError.connectionFailureReason(error)
                let (firstFailure, waiters) = state.withLockedValue { state -> (Bool, [Waiter]) in
                    let firstFailure = state.lastConnectFailure == nil
                    state.lastConnectFailure = reason
                    guard state.open == 0 else { return (firstFailure, []) }
                    defer { state.waiters.removeAll() }
                    return (firstFailure, state.waiters.all)
                }
                logger.log(
                    level: firstFailure ? .warning : .debug, "Cannot open a database connection; retrying",
                    metadata: ["database": "\(settings)", "reason": "\(reason)", "slot": "\(slot)"]
                )
                for waiter in waiters {
                    waiter.continuation.resume(throwing: DatabaseError.unavailable(operation: waiter.operation, reason: reason))
                }
                try? await Task.sleep(for: Self.jittered(backoff))
                backoff = min(backoff * 2, Self.maximumBackoff)
                continue
            }
            backoff = Self.initialBackoff
            let recovered = state.withLockedValue { state in
                state.open += 1
                defer { state.lastConnectFailure = nil }
                return state.lastConnectFailure != nil
            }
            if recovered {
                logger.info("Database connection open again", metadata: ["database": "\(settings)", "slot": "\(slot)"])
            }
            offer(connection)
            await withTaskCancellationHandler {
                try? await connection.closeFuture.get()
            } onCancel: {
                connection.closeInBackground()
            }
            state.withLockedValue { state in
                state.open -= 1
                state.idle.removeAll { $0 === connection }
            }
            if !Task.isCancelled {
                logger.debug("Database connection closed; reconnecting", metadata: ["slot": "\(slot)"])
            }
        }
    }

    /// Opens one connection within the connect timeout (which PostgresNIO applies to the TCP connect only: a server
    /// that accepts and then stays silent is cut off here too). A connection that arrives after the caller gave up
    /// (timeout or cancellation) is closed, never dropped open.
    private func connect(id: Int) async throws -> PostgresConnection {
        let configuration = try await settings.withCurrentPassword(configuration, operation: "connecting")
        let eventLoop = PostgresConnection.defaultEventLoopGroup.next()
        let timeout = settings.connectTimeout
        let waiting = NIOLockedValueBox<CheckedContinuation<PostgresConnection, any Error>?>(nil)
        let cancelled = NIOLockedValueBox(false)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<PostgresConnection, any Error>) in
                waiting.withLockedValue { $0 = continuation }
                let timer = eventLoop.scheduleTask(in: .nanoseconds(Int64(timeout / .nanoseconds(1)))) {
                    waiting.withLockedValue { $0.take() }?.resume(
                        throwing: DatabaseError.unavailable(operation: "connecting", reason: "no answer within \(timeout.formattedSeconds)")
                    )
                }
                if cancelled.withLockedValue({ $0 }) {
                    waiting.withLockedValue { $0.take() }?.resume(throwing: CancellationError())
                }
                PostgresConnection.connect(on: eventLoop, configuration: configuration, id: id, logger: logger).whenComplete { result in
                    timer.cancel()
                    guard let continuation = waiting.withLockedValue({ $0.take() }) else {
                        if case .success(let late) = result { late.closeInBackground() }
                        return
                    }
                    continuation.resume(with: result)
                }
            }
        } onCancel: {
            cancelled.withLockedValue { $0 = true }
            waiting.withLockedValue { $0.take() }?.resume(throwing: CancellationError())
        }
    }

    static func jittered(_ duration: Duration) -> Duration {
        duration * Double.random(in: 0.5...1.0)
    }

    // MARK: - State

    private struct State {
        enum Phase { case notStarted, running, closed }
        var phase: Phase = .notStarted
        /// Connections made and not yet seen closed: idle or lent out.
        var open = 0
        /// The most recent reason a connection could not be made; cleared by the next success.
        var lastConnectFailure: String?
        /// Open connections no one uses, the most recently used last.
        var idle: [PostgresConnection] = []
        var waiters = WaiterQueue()
        var nextWaiterID: UInt64 = 0
    }

    struct Waiter {
        let id: UInt64
        let operation: String
        let continuation: CheckedContinuation<PostgresConnection, any Error>
    }

    /// First come, first served; removal by id for a waiter that gave up.
    struct WaiterQueue {
        private var items: [Waiter] = []
        private var head = 0

        var count: Int { items.count - head }
        var all: [Waiter] { Array(items[head...]) }

        mutating func append(_ waiter: Waiter) {
            items.append(waiter)
        }

        mutating func popFirst() -> Waiter? {
            guard head < items.count else { return nil }
            let waiter = items[head]
            head += 1
            if head == items.count {
                items.removeAll(keepingCapacity: true)
                head = 0
            } else if head >= 64, head * 2 >= items.count {
                items.removeFirst(head)
                head = 0
            }
            return waiter
        }

        mutating func remove(id: UInt64) -> Waiter? {
            guard let index = items[head...].firstIndex(where: { $0.id == id }) else { return nil }
            return items.remove(at: index)
        }

        mutating func removeAll() {
            items.removeAll()
            head = 0
        }
    }
}

extension PostgresConnection {
    /// Starts closing the connection without waiting (from synchronous code such as a cancellation handler). The
    /// connection is kept alive until it is closed: PostgresNIO asserts that none is released while still open, which
    /// a connection that arrived after its caller gave up (the pool cancelled mid-connect) otherwise was.
    fileprivate func closeInBackground() {
        let closing: EventLoopFuture<Void> = close()
        closing.whenComplete { _ in withExtendedLifetime(self) {} }
    }
}
