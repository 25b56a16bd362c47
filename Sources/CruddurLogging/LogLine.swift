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
        switch format {
        case .text: text()
        case .json: json()
        }
    }

    func text() -> String {
        var line = Self.iso8601(timestamp)
        line.reserveCapacity(128)
        line += " "
        line += level
        line += " "
        line += label
        line += ":"
        for (key, value) in metadata {
            line += " "
            line += key
            line += "="
            switch value {
            case .string(let text): line += text
            case .integer(let number): line += String(number)
            }
        }
        if let source { line += " [\(source)]" }
        return line + " " + message + "\n"
    }

    func json() -> String {
        var line = "{\"timestamp\":\"" + Self.iso8601(timestamp) + "\",\"level\":"
        Self.appendJSONString(level, to: &line)
        line += ",\"message\":"
        Self.appendJSONString(message, to: &line)
        line += ",\"logger\":"
        Self.appendJSONString(label, to: &line)
        var rest: [(key: String, value: Value)] = []
        for entry in metadata {
            if entry.key == Self.requestIDKey || entry.key == Self.traceIDKey {
                line += ",\"\(entry.key)\":"
                Self.append(entry.value, to: &line)
            } else {
                rest.append(entry)
            }
        }
        if let source {
            line += ",\"source\":"
            Self.appendJSONString(source, to: &line)
        }
        if !rest.isEmpty {
            line += ",\"metadata\":{"
            for (index, entry) in rest.enumerated() {
                if index > 0 { line += "," }
                Self.appendJSONString(entry.key, to: &line)
                line += ":"
                Self.append(entry.value, to: &line)
            }
            line += "}"
        }
        return line + "}\n"
    }

    static func append(_ value: Value, to line: inout String) {
        switch value {
        case .string(let text): appendJSONString(text, to: &line)
        case .integer(let number): line += String(number)
        }
    }

    /// `text` as a JSON string literal: quotes, backslashes and control characters escaped.
    static func appendJSONString(_ text: String, to line: inout String) {
        line += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": line += "\\\""
            case "\\": line += "\\\\"
            case "\n": line += "\\n"
            case "\r": line += "\\r"
            case "\t": line += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F || (0x2028...0x2029).contains(scalar.value):
                let hex = String(scalar.value, radix: 16)
                line += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: line.unicodeScalars.append(scalar)
            }
        }
        line += "\""
    }

    /// `2026-12-01T14:33:15.123Z`.
    static func iso8601(_ time: timespec) -> String {
        var seconds = time_t(time.tv_sec)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let fields: [(value: Int, width: Int, separator: UInt8)] = [
            (Int(parts.tm_year) + 1900, 4, UInt8(ascii: "-")), (Int(parts.tm_mon) + 1, 2, UInt8(ascii: "-")),
            (Int(parts.tm_mday), 2, UInt8(ascii: "T")), (Int(parts.tm_hour), 2, UInt8(ascii: ":")), (Int(parts.tm_min), 2, UInt8(ascii: ":")),
            (Int(parts.tm_sec), 2, UInt8(ascii: ".")), (Int(time.tv_nsec / 1_000_000), 3, UInt8(ascii: "Z")),
        ]
        return String(unsafeUninitializedCapacity: 24) { buffer in
            var index = 0
            for field in fields {
                var value = max(0, field.value)
                for position in stride(from: field.width - 1, through: 0, by: -1) {
                    buffer[index + position] = UInt8(ascii: "0") + UInt8(value % 10)
                    value /= 10
                }
                index += field.width
                buffer[index] = field.separator
                index += 1
            }
            return index
        }
    }
}
