import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Tracing

/// Group commit in the client: writes that arrive while another group of writes is being committed wait, and then go
/// to the database together, so that one statement and one transaction (one round trip each for `BEGIN`, the
/// statement and `COMMIT`, and one WAL flush) serve them all.
///
/// One group runs at a time. A write that finds none running starts one at once (alone, when nothing else waits: no
/// delay at low load); otherwise it waits for the next group, which the running one starts as soon as it ends, with
/// up to `maximumSize` waiting writes, oldest first, no two with the same `key` (a write whose key is taken goes in a
/// later group, still ahead of younger writes). When every running group has run for `stallAfter` (held up by a lock
/// or a slow disk), the waiting writes start another group beside them, up to `maximumRunning`: a stuck group holds
/// up only its own writes. A write whose caller is cancelled while it waits leaves the queue with a
/// `CancellationError` (nothing of it was sent); once in a group it stays there and may be committed, as a request's
/// write may when its client leaves mid-statement.
///
/// `run` gets a group's items in arrival order and returns one result per item, in the same order. Each group runs in
/// a task of its own, in the `ServiceContext` (the trace) of its oldest write.
final class CommitGroup<Item: Sendable, Key: Hashable, Outcome: Sendable>: Sendable {
    typealias Run = @Sendable (_ items: [Item]) async -> [Result<Outcome, any Error>]

    private struct Waiting {
        let id: UInt64
        let item: Item
        let continuation: CheckedContinuation<Outcome, any Error>
        let context: ServiceContext?
    }

    private struct State {
        /// When each running group started, by runner.
        var running: [UInt64: ContinuousClock.Instant] = [:]
        var nextID: UInt64 = 0
        var waiting: [Waiting] = []
        /// Writes on their way into the queue, and those of them cancelled on the way.
        var arriving: Set<UInt64> = []
        var cancelledArriving: Set<UInt64> = []

        mutating func makeID() -> UInt64 {
            nextID += 1
            return nextID
        }

        /// Whether a new group may start now: room for one, and every running group (but `runner`'s) has run for
        /// `stallAfter` by `now`.
        func mayStart(besides runner: UInt64?, at now: ContinuousClock.Instant, maximumRunning: Int, stallAfter: Duration) -> Bool {
            running.count - (runner == nil ? 0 : 1) < maximumRunning
                && running.allSatisfy { $0.key == runner || now - $0.value >= stallAfter }
        }

        mutating func nextGroup(maximumSize: Int, key: (Item) -> Key) -> [Waiting] {
            var group: [Waiting] = []
            var keys = Set<Key>()
            var left: [Waiting] = []
            for write in waiting {
                if group.count < maximumSize, keys.insert(key(write.item)).inserted {
                    group.append(write)
                } else {
                    left.append(write)
                }
            }
            waiting = left
            return group
        }

        /// Starts a runner with the next group, when writes wait and a group may start.
        mutating func startRunner(
            at now: ContinuousClock.Instant, maximumRunning: Int, maximumSize: Int, stallAfter: Duration, key: (Item) -> Key
        ) -> (runner: UInt64, group: [Waiting])? {
            guard !waiting.isEmpty, mayStart(besides: nil, at: now, maximumRunning: maximumRunning, stallAfter: stallAfter) else { return nil }
            let runner = makeID()
            running[runner] = now
            return (runner, nextGroup(maximumSize: maximumSize, key: key))
        }
    }

    private let state = NIOLockedValueBox(State())
    private let maximumRunning: Int
    private let maximumSize: Int
    private let stallAfter: Duration
    private let key: @Sendable (Item) -> Key
    private let run: Run

    init(
        maximumRunning: Int, maximumSize: Int, stallAfter: Duration, key: @escaping @Sendable (Item) -> Key, run: @escaping Run
    ) {
        precondition(maximumRunning > 0 && maximumSize > 0, "a commit group needs room for one write")
        self.maximumRunning = maximumRunning
        self.maximumSize = maximumSize
        self.stallAfter = stallAfter
        self.key = key
        self.run = run
    }

    /// `item`'s outcome, once the group it went in has committed (or failed).
    func submit(_ item: Item) async throws -> Outcome {
        let id = state.withLockedValue { state in
            let id = state.makeID()
            state.arriving.insert(id)
            return id
        }
        let context = ServiceContext.current
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let start = state.withLockedValue { state -> (runner: UInt64, group: [Waiting])? in
                    state.arriving.remove(id)
                    if state.cancelledArriving.remove(id) != nil {
                        continuation.resume(throwing: CancellationError())
                        return nil
                    }
                    state.waiting.append(Waiting(id: id, item: item, continuation: continuation, context: context))
                    return state.startRunner(
                        at: .now, maximumRunning: maximumRunning, maximumSize: maximumSize, stallAfter: stallAfter, key: key)
                }
                if let start { launch(start.group, runner: start.runner) }
            }
        } onCancel: {
            let waiting = state.withLockedValue { state -> Waiting? in
                if let index = state.waiting.firstIndex(where: { $0.id == id }) { return state.waiting.remove(at: index) }
                // Not queued yet: it leaves as it arrives. Already in a group: that group answers it.
                if state.arriving.contains(id) { state.cancelledArriving.insert(id) }
                return nil
            }
            waiting?.continuation.resume(throwing: CancellationError())
        }
    }

    private func launch(_ group: [Waiting], runner: UInt64) {
        Task.detached { await self.commit(group, runner: runner) }
    }

    /// Runs `group`, then the groups that gather meanwhile, while no other runner is running (unstalled) to take them.
    private func commit(_ group: [Waiting], runner: UInt64) async {
        var group = group
        while true {
            // If this group stalls, the writes waiting behind it start another (even if no new write arrives).
            let watchdog = MultiThreadedEventLoopGroup.singleton.any().scheduleTask(in: TimeAmount(stallAfter)) { self.startIfStalled() }
            let outcomes = await ServiceContext.$current.withValue(group[0].context) { await run(group.map(\.item)) }
            watchdog.cancel()
            for (index, waiting) in group.enumerated() {
                guard index < outcomes.count else {
                    waiting.continuation.resume(
                        throwing: DatabaseError.unexpectedResult(
                            operation: "committing a group of writes", reason: "\(outcomes.count) outcomes for \(group.count) writes"))
                    continue
                }
                waiting.continuation.resume(with: outcomes[index])
            }
            let next = state.withLockedValue { state -> [Waiting]? in
                let now = ContinuousClock.now
                guard !state.waiting.isEmpty, state.mayStart(besides: runner, at: now, maximumRunning: maximumRunning, stallAfter: stallAfter)
                else {
                    state.running[runner] = nil
                    return nil
                }
                state.running[runner] = now
                return state.nextGroup(maximumSize: maximumSize, key: key)
            }
            guard let next else { return }
            group = next
        }
    }

    private func startIfStalled() {
        let start = state.withLockedValue { state in
            state.startRunner(at: .now, maximumRunning: maximumRunning, maximumSize: maximumSize, stallAfter: stallAfter, key: key)
        }
        if let start { launch(start.group, runner: start.runner) }
    }
}
