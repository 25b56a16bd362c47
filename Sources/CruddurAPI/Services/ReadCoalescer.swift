import NIOConcurrencyHelpers

/// Shares one read among identical requests, without serving anybody a snapshot older than their arrival.
///
/// The first request for a key runs the read itself. Requests that arrive while that read is in flight wait for the
/// *next* read, which starts when the current one ends and is run by the first of them; every one of them gets its
/// result. So per key at most one read runs and one batch waits, and every answer comes from a read that started
/// after the request arrived. An error is every waiter's error. A leader whose own task is cancelled hands the read to
/// the next of its batch instead of failing them.
final class ReadCoalescer<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private enum Turn: Sendable {
        case lead
        case answered(Result<Value, any Error>)
    }

    /// One key's read in flight: who its result goes to (besides its leader), and who waits for the next one.
    private struct Slot {
        var served: [CheckedContinuation<Turn, Never>] = []
        var next: [CheckedContinuation<Turn, Never>] = []
    }

    private let slots = NIOLockedValueBox([Key: Slot]())

    init() {}

    /// `read`'s result for a run of `read` that started after this call.
    func value(for key: Key, read: () async throws -> Value) async throws -> Value {
        if !claim(key, orWaitWith: nil) {
            let turn = await withCheckedContinuation { (continuation: CheckedContinuation<Turn, Never>) in
                // The read in flight may have ended since the first look: then this request runs the next one.
                if claim(key, orWaitWith: continuation) { continuation.resume(returning: .lead) }
            }
            if case .answered(let result) = turn { return try result.get() }
        }
        return try await lead(key, read: read)
    }

    /// Whether this request runs `key`'s next read because none is in flight; otherwise `waiter`, if any, waits for it.
    private func claim(_ key: Key, orWaitWith waiter: CheckedContinuation<Turn, Never>?) -> Bool {
        slots.withLockedValue { slots in
            guard var slot = slots[key] else {
                slots[key] = Slot()
                return true
            }
            if let waiter {
                slot.next.append(waiter)
                slots[key] = slot
            }
            return false
        }
    }

    private func lead(_ key: Key, read: () async throws -> Value) async throws -> Value {
        let result: Result<Value, any Error>
        do {
            result = .success(try await read())
        } catch {
            result = .failure(error)
        }
        var handedOver = false
        if case .failure = result, Task.isCancelled { handedOver = true }
        let (answered, nextLeader) = slots.withLockedValue { slots -> ([CheckedContinuation<Turn, Never>], CheckedContinuation<Turn, Never>?) in
            guard var slot = slots[key] else { return ([], nil) }
            if handedOver, !slot.served.isEmpty {
                // This request's client left mid-read: its batch still gets a read, run by the next of them.
                let leader = slot.served.removeFirst()
                slots[key] = slot
                return ([], leader)
            }
            let answered = slot.served
            guard !slot.next.isEmpty else {
                slots[key] = nil
                return (answered, nil)
            }
            let leader = slot.next.removeFirst()
            slot.served = slot.next
            slot.next = []
            slots[key] = slot
            return (answered, leader)
        }
        nextLeader?.resume(returning: .lead)
        for waiter in answered { waiter.resume(returning: .answered(result)) }
        return try result.get()
    }
}
