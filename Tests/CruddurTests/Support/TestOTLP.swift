import Foundation
import Testing

/// An OTLP/HTTP trace receiver (Tests/python/otlp_receiver.py, decoding with the official `opentelemetry-proto`
/// classes from `.venv`) on a free port: it writes each export request and each decoded span as a JSON line.
final class OTLPReceiver: Sendable {
    enum Mode: String, Sendable {
        /// Accepts every export.
        case ok
        /// Reads each export and never answers.
        case hang
        /// Answers 503 to every export.
        case fail
        /// Answers 503 (with `Retry-After: 0`) to every other export.
        case flaky
    }

    /// One decoded span.
    struct Span: Sendable {
        let traceID: String
        let spanID: String
        let parentSpanID: String?
        let traceState: String?
        let name: String
        let kind: String
        let statusCode: String
        let attributes: [String: String]
        let resource: [String: String]
        let durationMicroseconds: Double
    }

    let process: ChildProcess
    let port: Int
    let outputFile: String
    var endpoint: String { "http://127.0.0.1:\(port)" }

    private init(process: ChildProcess, port: Int, outputFile: String) {
        self.process = process
        self.port = port
        self.outputFile = outputFile
    }

    static func start(mode: Mode = .ok) async throws -> OTLPReceiver {
        let directory = NSTemporaryDirectory() + "cruddur-otlp-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let portFile = directory + "/port"
        let outputFile = directory + "/spans.jsonl"
        let process = try ChildProcess(
            packageDirectory + "/.venv/bin/python",
            [packageDirectory + "/Tests/python/otlp_receiver.py", "serve", "--port-file", portFile, "--out", outputFile, "--mode", mode.rawValue],
            environment: cleanEnvironment()
        )
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let text = try? String(contentsOfFile: portFile, encoding: .utf8),
                let port = Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
            {
                return OTLPReceiver(process: process, port: port, outputFile: outputFile)
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        process.signal(SIGTERM)
        throw OTLPReceiverError(output: process.output)
    }

    func stop() { process.signal(SIGTERM) }

    /// Every line written so far, parsed.
    func records() -> [[String: Any]] {
        let text = (try? String(contentsOfFile: outputFile, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        }
    }

    /// The export requests received so far (path, content type, headers).
    func requests() -> [[String: Any]] { records().filter { $0["type"] as? String == "request" } }

    func spans() -> [Span] {
        records().compactMap { record -> Span? in
            guard record["type"] as? String == "span", let traceID = record["trace_id"] as? String, let spanID = record["span_id"] as? String,
                let name = record["name"] as? String
            else { return nil }
            func strings(_ key: String) -> [String: String] {
                ((record[key] as? [String: Any]) ?? [:]).compactMapValues { $0 as? String }
            }
            return Span(
                traceID: traceID, spanID: spanID, parentSpanID: record["parent_span_id"] as? String,
                traceState: record["trace_state"] as? String, name: name,
                kind: record["kind"] as? String ?? "", statusCode: record["status_code"] as? String ?? "",
                attributes: strings("attributes_text"), resource: strings("resource"),
                durationMicroseconds: (record["duration_us"] as? Double) ?? 0
            )
        }
    }

    /// Waits until `condition` holds for the spans received, up to `timeout`; returns the spans either way.
    func spans(within timeout: Duration, until condition: ([Span]) -> Bool) async -> [Span] {
        let deadline = ContinuousClock.now + timeout
        var spans = self.spans()
        while !condition(spans), ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
            spans = self.spans()
        }
        return spans
    }
}

struct OTLPReceiverError: Error, CustomStringConvertible {
    let output: String
    var description: String { "the OTLP receiver did not start: \(output)" }
}
