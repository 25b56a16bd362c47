import CruddurLogging
import CruddurTracing
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// `ACCESS_LOG`: one line per request (request id, method, route template, status, duration in µs, response bytes),
/// never the body, the query string, `Authorization` or `Idempotency-Key`.
///
/// Requests only append to a bounded in-memory buffer; a thread of its own writes it to stderr, so a slow or
/// blocked stderr never stalls an event loop. When the buffer is full, lines are dropped and counted, and the writer
/// says how many in a warning line of its own.
public final class AccessLog: Service, Sendable {
    struct Entry: Sendable {
        let timestamp: timespec
        let requestID: String
        let method: String
        let route: String
        let status: Int
        let durationMicroseconds: Int64
        let bytes: Int64
        /// The request's trace, when traces are exported.
        var traceID: TraceID? = nil
    }

    struct Buffer {
        var entries: [Entry] = []
        var dropped = 0
        var droppedTotal = 0
        var stopped = false
    }

    let capacity: Int
    let format: LogFormat
    private let buffer = Mutex(Buffer())
    private let write: @Sendable (String) -> Void

    /// Lines wait at most this long before they are written.
    static let flushInterval: Duration = .milliseconds(20)

    init(format: LogFormat, capacity: Int = 8192, write: @escaping @Sendable (String) -> Void = LogOutput.write) {
        self.format = format
        self.capacity = capacity
        self.write = write
    }

    /// Lines dropped so far because the buffer was full.
    var droppedCount: Int { buffer.withLock { $0.droppedTotal } }

    /// Queues one line; never blocks beyond a short lock.
    func record(_ entry: Entry) {
        buffer.withLock { buffer in
            if buffer.entries.count < capacity {
                buffer.entries.append(entry)
            } else {
                buffer.dropped += 1
                buffer.droppedTotal += 1
            }
        }
    }

    /// Writes what is queued (with a warning for lines dropped since the last flush); true once stopped.
    @discardableResult
    func flush() -> Bool {
        let (entries, dropped, stopped) = buffer.withLock { buffer in
            defer {
                buffer.entries.removeAll(keepingCapacity: true)
                buffer.dropped = 0
            }
            return (buffer.entries, buffer.dropped, buffer.stopped)
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(entries.count * 200)
        var timestamps = TimestampWriter()
        // One array for every line's metadata, emptied in place.
        var metadata: [(key: String, value: LogLine.Value)] = []
        metadata.reserveCapacity(7)
        for entry in entries {
            metadata.removeAll(keepingCapacity: true)
            metadata.append((LogLine.requestIDKey, .string(entry.requestID)))
            if let traceID = entry.traceID { metadata.append((LogLine.traceIDKey, .string(traceID.description))) }
            metadata.append(("method", .string(entry.method)))
            metadata.append(("route", .string(entry.route)))
            metadata.append(("status", .integer(Int64(entry.status))))
            metadata.append(("duration_us", .integer(entry.durationMicroseconds)))
            metadata.append(("bytes", .integer(entry.bytes)))
            LogLine(timestamp: entry.timestamp, level: "info", label: "cruddur.access", message: "access", source: nil, metadata: metadata)
                .append(to: &bytes, format: format, timestamps: &timestamps)
        }
        if dropped > 0 {
            LogLine(
                timestamp: LogLine.now(), level: "warning", label: "cruddur.access", message: "Access log lines dropped: the buffer was full",
                source: nil, metadata: [("dropped", .integer(Int64(dropped)))]
            ).append(to: &bytes, format: format)
        }
        if !bytes.isEmpty { write(String(decoding: bytes, as: UTF8.self)) }
        return stopped
    }

    /// Starts the writer thread, and stops it (after a last flush) at graceful shutdown.
    public func run() async throws {
        let thread = Thread { [self] in
            while !flush() {
                Thread.sleep(forTimeInterval: Double(Self.flushInterval.components.attoseconds) / 1e18)
            }
        }
        thread.name = "cruddur-access-log"
        thread.start()
        try? await gracefulShutdown()
        buffer.withLock { $0.stopped = true }
        // The last lines, written before the process can exit (the thread may be asleep).
        flush()
    }
}
