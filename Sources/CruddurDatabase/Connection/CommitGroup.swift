import NIOConcurrencyHelpers
import Tracing

/// Group commit in the client: writes that arrive while another group of writes is being committed wait, and then go
/// to the database together, so that one statement and one transaction (one round trip each for `BEGIN`, the
/// statement and `COMMIT`, and one WAL flush) serve them all.
///
/// One group runs at a time. A write that finds none running starts one at once (alone, when nothing else waits: no
/// delay at low load); otherwise it waits for the next group, which the running one starts as soon as it ends, with
/// up to `maximumSize` waiting writes, oldest first, no two with the same `key` (a write whose key is taken goes in a
/// later group, still ahead of younger writes). Only when every running group has run for `stallAfter` or longer
/// (held up by a lock or a slow disk) does a write start another beside them, up to `maximumRunning`: a stuck group
/// holds up only its own writes.
///
/// `run` gets a group's items in arrival order and returns one result per item, in the same order. Groups run in tasks
/// of their own: a caller that is cancelled while it waits does not cancel its group (its write may still be
/// committed, as a request's may when its client leaves mid-statement), and the others still get answers.
final class CommitGroup<Item: Sendable, Key: Hashable, Outcome: Sendable>: Sendable {
    typealias Run = @Sendable (_ items: [Item]) async -> [Result<Outcome, any Error>]

    private struct Waiting {
        let item: Item
        let continuation: CheckedContinuation<Outcome, any Error>
        /// The writer's context (its request's span): a group's database call is traced under its oldest write's.
        let context: ServiceContext?
    }

    private struct State {
        /// When each running group started, by runner.
        var running: [UInt64: ContinuousClock.Instant] = [:]
        var nextRunner: UInt64 = 0
        var waiting: [Waiting] = []

        /// Whether every running group (but `runner`'s) has run for `stallAfter` by `now`.
        func othersStalled(besides runner: UInt64?, at now: ContinuousClock.Instant, stallAfter: Duration) -> Bool {
            running.allSatisfy { $0.key == runner || now - $0.value >= stallAfter }
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
        try await withCheckedThrowingContinuation { continuation in
            let start = state.withLockedValue { state -> (runner: UInt64, group: [Waiting])? in
                state.waiting.append(Waiting(item: item, continuation: continuation, context: ServiceContext.current))
                let now = ContinuousClock.now
                guard state.running.count < maximumRunning, state.othersStalled(besides: nil, at: now, stallAfter: stallAfter)
                else { return nil }
                let runner = state.nextRunner
                state.nextRunner += 1
                state.running[runner] = now
                return (runner, state.nextGroup(maximumSize: maximumSize, key: key))
            }
            if let start { Task { await self.commit(start.group, runner: start.runner) } }
        }
    }

    /// Runs `group`, then the groups that gather meanwhile, while no other runner is running (unstalled) to take them.
    private func commit(_ group: [Waiting], runner: UInt64) async {
        var group = group
        while true {
            let outcomes = await ServiceContext.$current.withValue(group[0].context) { await run(group.map(\.item)) }
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
                guard !state.waiting.isEmpty, state.othersStalled(besides: runner, at: now, stallAfter: stallAfter) else {
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
}
