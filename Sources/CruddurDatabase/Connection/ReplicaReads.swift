import Logging
import NIOConcurrencyHelpers
import PostgresNIO
import ServiceLifecycle

/// Where reads go when a streaming read replica is configured (`READ_CONNECTION_URL`): to the replica while it is
/// known to hold every commit older than `maxLag` and every write this server made, else to the primary.
///
/// How it knows, without trusting clocks or `pg_last_xact_replay_timestamp()` (which stands still on an idle
/// primary): every `pollInterval` it notes the instant, reads the primary's WAL insert position, then the replica's
/// replay position. Once the replica has replayed past a position the primary reported, it holds every commit that
/// finished before that sample started: the replica *covers* that instant. A read may use the replica when the
/// latest covered instant is within `maxLag` of now and no later than this server's latest write (read-your-writes
/// without a round trip per write: reads go to the primary for the ~1–2 polls after a post). A replica that fails, or
/// falls behind, is left within `maxLag` (at once for a failed read, which is retried on the primary), and used again
/// as soon as it covers recent instants once more.
public final class ReplicaReads: Service, Sendable {
    public let primary: DatabasePool
    public let replica: DatabasePool
    /// How stale a replica read may be.
    public let maxLag: Duration
    let pollInterval: Duration
    private let logger: Logger
    private let state = NIOLockedValueBox(State())

    struct State {
        /// Every commit that finished before this instant is on the replica.
        var coveredUntil: ContinuousClock.Instant?
        /// When this server's latest write had committed.
        var lastWrite: ContinuousClock.Instant?
        /// Recent (instant, primary insert position) samples, oldest first.
        var samples: [(instant: ContinuousClock.Instant, position: UInt64)] = []
        /// Whether reads went to the replica at the last decision that changed (for the log).
        var usingReplica = false
        /// Why the replica is not used, as last logged.
        var loggedReason: String?
    }

    static let sampleLimit = 64

    public init(primary: DatabasePool, replica: DatabasePool, maxLag: Duration, pollInterval: Duration = .milliseconds(100), logger: Logger) {
        self.primary = primary
        self.replica = replica
        self.maxLag = maxLag
        self.pollInterval = pollInterval
        self.logger = logger
    }

    /// The pool a read starting now may use, and whether it is the replica.
    public func poolForRead(now: ContinuousClock.Instant = .now) -> (pool: DatabasePool, isReplica: Bool) {
        let useReplica = state.withLockedValue { state in
            guard let covered = state.coveredUntil, now - covered <= maxLag else { return false }
            if let lastWrite = state.lastWrite, covered < lastWrite { return false }
            return true
        }
        return useReplica ? (replica, true) : (primary, false)
    }

    /// Records that a write of this server has committed: its reads avoid the replica until it has that write.
    public func noteWrite(at instant: ContinuousClock.Instant = .now) {
        state.withLockedValue { state in
            if state.lastWrite.map({ $0 < instant }) ?? true { state.lastWrite = instant }
        }
    }

    /// A read on the replica failed: reads go to the primary until the replica covers a new instant.
    public func noteReplicaFailure(_ error: any Error) {
        forget(reason: "a read on the replica failed: \(DatabaseError.connectionFailureReason(error))")
    }

    /// Runs `body` on the pool a read may use now; a failure on the replica is retried once on the primary.
    public func read<Result: Sendable>(
        operation: String, statement: String? = nil, _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        let (pool, isReplica) = poolForRead()
        guard isReplica else { return try await pool.withConnection(operation: operation, statement: statement, body) }
        do {
            return try await replica.withConnection(operation: operation, statement: statement, deadline: Self.replicaReadDeadline, body)
        } catch {
            // A caller that left (its client went away) says nothing about the replica.
            if Task.isCancelled { throw error }
            noteReplicaFailure(error)
            return try await primary.withConnection(operation: operation, statement: statement, body)
        }
    }

    /// A replica read that takes longer than this is given up and retried on the primary.
    static let replicaReadDeadline: Duration = .seconds(1)

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await self.sample()
                try? await Task.sleep(for: self.pollInterval)
            }
        }
    }

    /// One poll: the primary's position, then the replica's, and what that covers.
    func sample() async {
        let started = ContinuousClock.now
        let deadline = Duration.milliseconds(500)
        let primaryPosition: UInt64
        do {
            primaryPosition = try await primary.withConnection(operation: "reading the primary's WAL position", deadline: deadline) {
                [logger] connection in
                var position: UInt64?
                for try await text in try await connection.query("SELECT pg_current_wal_insert_lsn()::text", logger: logger).decode(String.self) {
                    position = Self.parsePosition(text)
                }
                guard let position else {
                    throw DatabaseError.unexpectedResult(operation: "reading the primary's WAL position", reason: "no position")
                }
                return position
            }
        } catch {
            // Without the primary there is nothing to compare with; the covered instant ages on its own.
            return
        }
        let replay: (position: UInt64?, inRecovery: Bool)
        do {
            replay = try await replica.withConnection(operation: "reading the replica's replay position", deadline: deadline) {
                [logger] connection in
                for try await (text, inRecovery) in try await connection.query(
                    "SELECT pg_last_wal_replay_lsn()::text, pg_is_in_recovery()", logger: logger
                ).decode((String?, Bool).self) {
                    return (text.flatMap(Self.parsePosition), inRecovery)
                }
                return (nil, false)
            }
        } catch {
            forget(reason: "the replica does not answer: \(DatabaseError.connectionFailureReason(error))")
            return
        }
        guard replay.inRecovery, let replayed = replay.position else {
            forget(reason: "READ_CONNECTION_URL is not a streaming standby (pg_is_in_recovery() is false or it reports no replay position)")
            return
        }
        let change = state.withLockedValue { state -> (Bool, Bool) in
            state.samples.append((started, primaryPosition))
            if state.samples.count > Self.sampleLimit { state.samples.removeFirst(state.samples.count - Self.sampleLimit) }
            if let covered = state.samples.last(where: { $0.position <= replayed })?.instant {
                if state.coveredUntil.map({ $0 < covered }) ?? true { state.coveredUntil = covered }
                state.samples.removeAll { $0.instant < covered }
            }
            let fresh = state.coveredUntil.map { ContinuousClock.now - $0 <= maxLag } ?? false
            defer { state.usingReplica = fresh }
            if fresh { state.loggedReason = nil }
            return (fresh != state.usingReplica, fresh)
        }
        if change.0 {
            if change.1 {
                logger.info("Feed reads go to the read replica")
            } else {
                logger.warning("Feed reads go to the primary", metadata: ["reason": "the read replica lags more than \(maxLag.formattedSeconds)"])
            }
        }
    }

    /// Forgets what the replica covers (it failed, restarted or is no standby): reads go to the primary.
    private func forget(reason: String) {
        let log = state.withLockedValue { state -> Bool in
            state.coveredUntil = nil
            state.samples.removeAll()
            defer {
                state.usingReplica = false
                state.loggedReason = reason
            }
            return state.usingReplica || state.loggedReason != reason
        }
        if log {
            logger.warning("Feed reads go to the primary", metadata: ["reason": "\(reason)"])
        }
    }

    /// A `pg_lsn` as text (`16/B374D848`) as a number.
    static func parsePosition(_ text: String) -> UInt64? {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let high = UInt64(parts[0], radix: 16), let low = UInt64(parts[1], radix: 16), high <= UInt32.max,
            low <= UInt32.max
        else { return nil }
        return high << 32 | low
    }
}
