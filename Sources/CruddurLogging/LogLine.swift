#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One log line, as text (`2026-12-01T14:33:15.123Z info cruddur: key=value [source] message`) or as a JSON object
/// (`{"timestamp":…,"level":…,"message":…,"logger":…,"request_id":…,"metadata":{…}}`), ending in a newline.
public struct LogLine: Sendable {
    /// A metadata value: text or a whole number (written unquoted in JSON).
    public enum Value: Sendable {
        case string(String)
        case integer(Int64)
    }

    /// The metadata key whose value every line of one HTTP request carries; JSON lifts it to the top level.
    public static let requestIDKey = "request_id"
    /// The metadata key of the W3C trace id, lifted to the top level like the request id.
    public static let traceIDKey = "trace_id"

    public var timestamp: timespec
    public var level: String
    public var label: String
    public var message: String
    public var source: String?
    public var metadata: [(key: String, value: Value)]

    public init(timestamp: timespec, level: String, label: String, message: String, source: String?, metadata: [(key: String, value: Value)]) {
        self.timestamp = timestamp
        self.level = level
        self.label = label
        self.message = message
        self.source = source
        self.metadata = metadata
    }

    /// The wall-clock time now.
    public static func now() -> timespec {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return time
    }

    public func rendered(_ format: LogFormat) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(256)
        append(to: &bytes, format: format)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the line's UTF-8 bytes (newline included) to `bytes`: no intermediate strings, for writers of many lines.
    public func append(to bytes: inout [UInt8], format: LogFormat) {
        switch format {
        case .text: appendText(to: &bytes) { Self.appendISO8601(timestamp, to: &$0) }
        case .json: appendJSON(to: &bytes) { Self.appendISO8601(timestamp, to: &$0) }
        }
    }

    /// The same, for a writer of many lines in a row: their timestamps through `timestamps`.
    public func append(to bytes: inout [UInt8], format: LogFormat, timestamps: inout TimestampWriter) {
        switch format {
        case .text: appendText(to: &bytes) { timestamps.append(timestamp, to: &$0) }
        case .json: appendJSON(to: &bytes) { timestamps.append(timestamp, to: &$0) }
        }
    }

    private func appendText(to bytes: inout [UInt8], timestamp appendTimestamp: (inout [UInt8]) -> Void) {
        appendTimestamp(&bytes)
        bytes.append(UInt8(ascii: " "))
        bytes.append(contentsOf: level.utf8)
        bytes.append(UInt8(ascii: " "))
        bytes.append(contentsOf: label.utf8)
        bytes.append(UInt8(ascii: ":"))
        for (key, value) in metadata {
            bytes.append(UInt8(ascii: " "))
            bytes.append(contentsOf: key.utf8)
            bytes.append(UInt8(ascii: "="))
            switch value {
            case .string(let text): bytes.append(contentsOf: text.utf8)
            case .integer(let number): JSONText.appendInteger(number, to: &bytes)
            }
        }
        if let source {
            bytes.append(contentsOf: " [".utf8)
            bytes.append(contentsOf: source.utf8)
            bytes.append(UInt8(ascii: "]"))
        }
        bytes.append(UInt8(ascii: " "))
        bytes.append(contentsOf: message.utf8)
        bytes.append(UInt8(ascii: "\n"))
    }

    private func appendJSON(to bytes: inout [UInt8], timestamp appendTimestamp: (inout [UInt8]) -> Void) {
        bytes.append(contentsOf: #"{"timestamp":""#.utf8)
        appendTimestamp(&bytes)
        bytes.append(contentsOf: #"","level":"#.utf8)
        JSONText.appendString(level, to: &bytes)
        bytes.append(contentsOf: #","message":"#.utf8)
        JSONText.appendString(message, to: &bytes)
        bytes.append(contentsOf: #","logger":"#.utf8)
        JSONText.appendString(label, to: &bytes)
        var others = 0
        for entry in metadata {
            if entry.key == Self.requestIDKey || entry.key == Self.traceIDKey {
                bytes.append(UInt8(ascii: ","))
                JSONText.appendString(entry.key, to: &bytes)
                bytes.append(UInt8(ascii: ":"))
                Self.append(entry.value, to: &bytes)
            } else {
                others += 1
            }
        }
        if let source {
            bytes.append(contentsOf: #","source":"#.utf8)
            JSONText.appendString(source, to: &bytes)
        }
        if others > 0 {
            bytes.append(contentsOf: #","metadata":{"#.utf8)
            var first = true
            for entry in metadata where entry.key != Self.requestIDKey && entry.key != Self.traceIDKey {
                if !first { bytes.append(UInt8(ascii: ",")) }
                first = false
                JSONText.appendString(entry.key, to: &bytes)
                bytes.append(UInt8(ascii: ":"))
                Self.append(entry.value, to: &bytes)
            }
            bytes.append(UInt8(ascii: "}"))
        }
        bytes.append(contentsOf: "}\n".utf8)
    }

    static func append(_ value: Value, to bytes: inout [UInt8]) {
        switch value {
        case .string(let text): JSONText.appendString(text, to: &bytes)
        case .integer(let number): JSONText.appendInteger(number, to: &bytes)
        }
    }

    /// `2026-12-01T14:33:15.123Z`.
    static func appendISO8601(_ time: timespec, to bytes: inout [UInt8]) {
        appendDateTime(time.tv_sec, to: &bytes)
        appendMilliseconds(time, to: &bytes)
    }

    /// `2026-12-01T14:33:15.`: the date and time of `seconds` since the epoch, to the second.
    static func appendDateTime(_ seconds: Int, to bytes: inout [UInt8]) {
        var seconds = time_t(seconds)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        appendDigits(Int(parts.tm_year) + 1900, width: 4, then: UInt8(ascii: "-"), to: &bytes)
        appendDigits(Int(parts.tm_mon) + 1, width: 2, then: UInt8(ascii: "-"), to: &bytes)
        appendDigits(Int(parts.tm_mday), width: 2, then: UInt8(ascii: "T"), to: &bytes)
        appendDigits(Int(parts.tm_hour), width: 2, then: UInt8(ascii: ":"), to: &bytes)
        appendDigits(Int(parts.tm_min), width: 2, then: UInt8(ascii: ":"), to: &bytes)
        appendDigits(Int(parts.tm_sec), width: 2, then: UInt8(ascii: "."), to: &bytes)
    }

    /// `123Z`: the milliseconds of `time`.
    static func appendMilliseconds(_ time: timespec, to bytes: inout [UInt8]) {
        appendDigits(Int(time.tv_nsec / 1_000_000), width: 3, then: UInt8(ascii: "Z"), to: &bytes)
    }

    private static func appendDigits(_ value: Int, width: Int, then separator: UInt8, to bytes: inout [UInt8]) {
        var value = max(0, value)
        let start = bytes.count
        for _ in 0..<width { bytes.append(UInt8(ascii: "0")) }
        for position in stride(from: start + width - 1, through: start, by: -1) {
            bytes[position] = UInt8(ascii: "0") + UInt8(value % 10)
            value /= 10
        }
        bytes.append(separator)
    }
}

/// Timestamps for a writer of many lines in a row (the access log): the date and time are formatted once per
/// second, and only the milliseconds per line.
public struct TimestampWriter {
    private var second = Int.min
    private var dateTime: [UInt8] = []

    public init() {}

    /// `2026-12-01T14:33:15.123Z`, as ``LogLine`` writes it.
    public mutating func append(_ time: timespec, to bytes: inout [UInt8]) {
        if time.tv_sec != second {
            dateTime.removeAll(keepingCapacity: true)
            LogLine.appendDateTime(time.tv_sec, to: &dateTime)
            second = time.tv_sec
        }
        bytes.append(contentsOf: dateTime)
        LogLine.appendMilliseconds(time, to: &bytes)
    }
}
