import Foundation
import NIOConcurrencyHelpers
import Testing
import Tracing

@testable import CruddurDatabase

/// A door that `run` waits at until the test opens it.
private final class Door: Sendable {
    private let state = NIOLockedValueBox((open: false, waiting: [CheckedContinuation<Void, Never>]()))

    func pass() async {
        await withCheckedContinuation { continuation in
            let open = state.withLockedValue { state in
                if !state.open { state.waiting.append(continuation) }
                return state.open
            }
            if open { continuation.resume() }
        }
    }

    func open() {
        let waiting = state.withLockedValue { state in
            state.open = true
            defer { state.waiting = [] }
            return state.waiting
        }
        for continuation in waiting { continuation.resume() }
    }
}

/// Which write's context a group ran in.
private enum Writer: ServiceContextKey {
    typealias Value = String
}

/// The groups a `CommitGroup` ran, in the order they started, and the writer whose context each ran in; the first
/// group waits at `firstGroupDoor`.
private final class Recorder: Sendable {
    let groups = NIOLockedValueBox([[String]]())
    let contexts = NIOLockedValueBox([String?]())
    let firstGroupDoor = Door()

    func run(_ items: [String]) async -> [Result<String, any Error>] {
        let isFirst = groups.withLockedValue { groups in
            groups.append(items)
            return groups.count == 1
        }
        contexts.withLockedValue { $0.append(ServiceContext.current?[Writer.self]) }
        if isFirst { await firstGroupDoor.pass() }
        return items.map { .success("done " + $0) }
    }

    var started: [[String]] { groups.withLockedValue { $0 } }
}

/// Waits until `condition` holds, up to 10 s.
private func eventually(_ condition: () -> Bool) async -> Bool {
    let end = ContinuousClock.now + .seconds(10)
    while ContinuousClock.now < end {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(2))
    }
    return condition()
}

/// The key of an item: its text up to the first "-" ("a-1" and "a-2" share the key "a").
private func authorKey(_ item: String) -> String { String(item.prefix { $0 != "-" }) }

@Suite("CommitGroup: writes that arrive while a group commits go together in the next one")
struct CommitGroupTests {
    @Test("a write alone starts at once, in a group of its own")
    func aloneAtOnce() async throws {
        let recorder = Recorder()
        recorder.firstGroupDoor.open()
        let group = CommitGroup<String, String, String>(
            maximumRunning: 4, maximumSize: 8, stallAfter: .seconds(60), key: authorKey, run: recorder.run)
        #expect(try await group.submit("a-1") == "done a-1")
        #expect(try await group.submit("b-1") == "done b-1")
        #expect(recorder.started == [["a-1"], ["b-1"]])
    }

    @Test("writes that arrive while a group runs wait and go in the next group together, in arrival order, keys distinct")
    func gatherWhileRunning() async throws {
        let recorder = Recorder()
        let group = CommitGroup<String, String, String>(
            maximumRunning: 4, maximumSize: 3, stallAfter: .seconds(60), key: authorKey, run: recorder.run)
        try await withThrowingTaskGroup(of: String.self) { tasks in
            tasks.addTask { try await group.submit("a-1") }
            #expect(await eventually { recorder.started.count == 1 })
            // While the first group is held, these arrive one after another (b's key twice).
            for item in ["b-1", "a-2", "b-2", "c-1", "d-1"] {
                var context = ServiceContext.topLevel
                context[Writer.self] = item
                tasks.addTask { try await ServiceContext.$current.withValue(context) { try await group.submit(item) } }
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(recorder.started.count == 1, "nothing may start beside a group that is not stalled")
            recorder.firstGroupDoor.open()
            var answers: [String] = []
            for try await answer in tasks { answers.append(answer) }
            #expect(answers.sorted() == ["done a-1", "done a-2", "done b-1", "done b-2", "done c-1", "done d-1"])
        }
        // Groups of at most 3, oldest first; b-2 waits for a group without b-1, still ahead of the younger d-1.
        #expect(recorder.started == [["a-1"], ["b-1", "a-2", "c-1"], ["b-2", "d-1"]])
        // Each group runs in its oldest write's context (its request's trace), not in the task's that started the first.
        #expect(recorder.contexts.withLockedValue { $0 } == [nil, "b-1", "b-2"])
    }

    @Test("when the running group has stalled, a new write starts another group beside it")
    func stalledGroupDoesNotHoldUpOthers() async throws {
        let recorder = Recorder()
        let group = CommitGroup<String, String, String>(
            maximumRunning: 2, maximumSize: 8, stallAfter: .milliseconds(50), key: authorKey, run: recorder.run)
        try await withThrowingTaskGroup(of: String.self) { tasks in
            tasks.addTask { try await group.submit("stuck-1") }
            #expect(await eventually { recorder.started.count == 1 })
            try await Task.sleep(for: .milliseconds(100))
            // The first group is still held: this write does not wait for it.
            #expect(try await group.submit("b-1") == "done b-1")
            #expect(recorder.started == [["stuck-1"], ["b-1"]])
            recorder.firstGroupDoor.open()
            #expect(try await tasks.next() == "done stuck-1")
        }
    }

    @Test("a write that waits behind a group that stalls starts its own group, though no other write arrives", .timeLimit(.minutes(1)))
    func stalledGroupPromotesWaitingWrites() async throws {
        let recorder = Recorder()
        let group = CommitGroup<String, String, String>(
            maximumRunning: 2, maximumSize: 8, stallAfter: .milliseconds(50), key: authorKey, run: recorder.run)
        try await withThrowingTaskGroup(of: String.self) { (tasks: inout ThrowingTaskGroup<String, any Error>) async throws -> Void in
            tasks.addTask { try await group.submit("stuck-1") }
            #expect(await eventually { recorder.started.count == 1 })
            // Without the promotion b-1 would wait for the held group: opened after 10 s anyway, so it fails, not hangs.
            let safety = Task {
                try await Task.sleep(for: .seconds(10))
                recorder.firstGroupDoor.open()
            }
            defer { safety.cancel() }
            // Queued while the first group is young; nothing else arrives after it.
            let queued = ContinuousClock.now
            #expect(try await group.submit("b-1") == "done b-1")
            #expect(ContinuousClock.now - queued < .seconds(5), "b-1 waited for the stalled group")
            #expect(recorder.started == [["stuck-1"], ["b-1"]])
            recorder.firstGroupDoor.open()
            #expect(try await tasks.next() == "done stuck-1")
        }
    }

    @Test("a waiting write whose caller is cancelled leaves the queue at once and is never run", .timeLimit(.minutes(1)))
    func cancelledWhileWaiting() async throws {
        let recorder = Recorder()
        let group = CommitGroup<String, String, String>(
            maximumRunning: 1, maximumSize: 8, stallAfter: .seconds(60), key: authorKey, run: recorder.run)
        let first = Task { try await group.submit("a-1") }
        #expect(await eventually { recorder.started.count == 1 })
        // Were the cancelled write kept, it would wait for the held group: opened after 10 s anyway, so it fails, not hangs.
        let safety = Task {
            try await Task.sleep(for: .seconds(10))
            recorder.firstGroupDoor.open()
        }
        defer { safety.cancel() }
        let waiting = Task { try await group.submit("b-1") }
        try await Task.sleep(for: .milliseconds(50))
        waiting.cancel()
        await #expect(throws: CancellationError.self) { try await waiting.value }
        recorder.firstGroupDoor.open()
        #expect(try await first.value == "done a-1")
        #expect(try await group.submit("c-1") == "done c-1")
        #expect(recorder.started == [["a-1"], ["c-1"]])
    }

    @Test("a run that returns too few outcomes fails the writes without one, instead of leaving them waiting")
    func missingOutcomes() async throws {
        let group = CommitGroup<String, String, String>(
            maximumRunning: 1, maximumSize: 8, stallAfter: .seconds(60), key: authorKey, run: { _ in [] })
        await #expect(throws: DatabaseError.self) { try await group.submit("a-1") }
    }
}
