import Foundation
import Testing

@testable import CruddurLogging

/// The two line formats, byte for byte: every log line and the access log are rendered by this code.
@Suite("Log lines: text and JSON")
struct LogLineTests {
    /// 2026-12-01T14:33:15.123Z
    static let time = timespec(tv_sec: 1_796_135_595, tv_nsec: 123_999_999)

    static let line = LogLine(
        timestamp: time, level: "info", label: "cruddur.access", message: "access", source: "CruddurAPI",
        metadata: [
            (LogLine.requestIDKey, .string("abc-123")), (LogLine.traceIDKey, .string("4bf92f3577b34da6a3ce929d0e0e4736")),
            ("route", .string("/api/activities/home")), ("status", .integer(200)), ("delta", .integer(-45)), ("zero", .integer(0)),
            ("largest", .integer(.max)), ("smallest", .integer(.min)),
        ])

    @Test("text: time, level, label, metadata in order, source, message")
    func text() {
        #expect(
            Self.line.rendered(.text)
                == "2026-12-01T14:33:15.123Z info cruddur.access: request_id=abc-123 trace_id=4bf92f3577b34da6a3ce929d0e0e4736 "
                + "route=/api/activities/home status=200 delta=-45 zero=0 largest=9223372036854775807 "
                + "smallest=-9223372036854775808 [CruddurAPI] access\n")
        func timestamp(_ time: timespec) -> Substring {
            LogLine(timestamp: time, level: "info", label: "t", message: "m", source: nil, metadata: []).rendered(.text).prefix(24)
        }
        #expect(timestamp(timespec(tv_sec: 0, tv_nsec: 0)) == "1970-01-01T00:00:00.000Z")
        #expect(timestamp(timespec(tv_sec: 951_782_399, tv_nsec: 999_000_000)) == "2000-02-28T23:59:59.999Z")
    }

    @Test("a writer of many lines formats each second once and every line's time exactly, in both formats")
    func timestampWriter() {
        var timestamps = TimestampWriter()
        let times = [
            timespec(tv_sec: 951_782_399, tv_nsec: 1_000_000), timespec(tv_sec: 951_782_399, tv_nsec: 999_999_999),
            timespec(tv_sec: 951_782_400, tv_nsec: 0), Self.time, timespec(tv_sec: 0, tv_nsec: 5_000_000),
            timespec(tv_sec: 951_782_400, tv_nsec: 250_000_000),
        ]
        for format in [LogFormat.text, .json] {
            for time in times {
                let line = LogLine(timestamp: time, level: "info", label: "t", message: "m", source: nil, metadata: [("k", .integer(1))])
                var bytes: [UInt8] = []
                line.append(to: &bytes, format: format, timestamps: &timestamps)
                #expect(String(decoding: bytes, as: UTF8.self) == line.rendered(format), "\(time.tv_sec).\(time.tv_nsec)")
            }
        }
        var bytes: [UInt8] = []
        timestamps.append(timespec(tv_sec: 951_782_400, tv_nsec: 7_000_000), to: &bytes)
        #expect(String(decoding: bytes, as: UTF8.self) == "2000-02-29T00:00:00.007Z")
    }

    @Test("JSON: the ids at the top level, the rest under metadata, numbers unquoted")
    func json() throws {
        let rendered = Self.line.rendered(.json)
        #expect(
            rendered == #"{"timestamp":"2026-12-01T14:33:15.123Z","level":"info","message":"access","logger":"cruddur.access","#
                + #""request_id":"abc-123","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","source":"CruddurAPI","metadata":{"#
                + #""route":"/api/activities/home","status":200,"delta":-45,"zero":0,"largest":9223372036854775807,"#
                + #""smallest":-9223372036854775808}}"# + "\n")
        let bare = LogLine(timestamp: Self.time, level: "warning", label: "cruddur", message: "m", source: nil, metadata: [])
        #expect(bare.rendered(.json) == #"{"timestamp":"2026-12-01T14:33:15.123Z","level":"warning","message":"m","logger":"cruddur"}"# + "\n")
    }

    @Test("JSON escaping: quotes, backslashes, control characters and U+2028/U+2029 are escaped; other text passes whole")
    func escaping() throws {
        let tricky = "q\"b\\n\nr\rt\tnul\u{0}del\u{7F}ls\u{2028}ps\u{2029}é€😀\u{2027}"
        let line = LogLine(
            timestamp: Self.time, level: "info", label: "cruddur", message: tricky, source: nil, metadata: [(tricky, .string(tricky))])
        let rendered = line.rendered(.json)
        #expect(rendered.contains(#""message":"q\"b\\n\nr\rt\tnul\u0000del\u007fls\u2028ps\u2029é€😀\#u{2027}""#))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(rendered.utf8)) as? [String: Any])
        #expect(object["message"] as? String == tricky)
        #expect((object["metadata"] as? [String: String])?[tricky] == tricky)
        #expect(rendered.utf8.filter { $0 == UInt8(ascii: "\n") }.count == 1, "one line")
    }
}
