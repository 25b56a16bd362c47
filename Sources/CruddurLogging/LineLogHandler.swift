import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
private let systemWrite = Glibc.write
#elseif canImport(Darwin)
import Darwin
private let systemWrite = Darwin.write
#endif

/// Writes each event as one ``LogLine`` on stderr, whole lines only (one `write` under a process-wide lock).
///
/// Hummingbird's own per-request key (`hb.request.id`) is left out: `request_id` is the request's id (`X-Request-Id`).
struct LineLogHandler: LogHandler {
    static let hummingbirdRequestIDKey = "hb.request.id"

    let label: String
    let format: LogFormat
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    init(label: String, format: LogFormat) {
        self.label = label
        self.format = format
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        merged[Self.hummingbirdRequestIDKey] = nil
        let entries = merged.sorted { $0.key < $1.key }.map { (key: $0.key, value: LogLine.Value.string("\($0.value)")) }
        let line = LogLine(
            timestamp: LogLine.now(), level: event.level.rawValue, label: label, message: "\(event.message)",
            source: event.source, metadata: entries
        ).rendered(format)
        LogOutput.write(line)
    }
}

/// Standard error, shared by every log line and the access log.
public enum LogOutput {
    private static let lock = Mutex(())

    /// Writes `text` to stderr in as few `write` calls as it takes, under the lock, so lines never interleave.
    public static func write(_ text: String) {
        lock.withLock { _ in
            var text = text
            text.withUTF8 { bytes in
                var offset = 0
                while offset < bytes.count {
                    let written = systemWrite(2, bytes.baseAddress! + offset, bytes.count - offset)
                    if written > 0 {
                        offset += written
                    } else if written < 0 && errno == EINTR {
                        continue
                    } else {
                        return
                    }
                }
            }
        }
    }
}
