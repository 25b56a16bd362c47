/// Whether and how traces are exported, from the standard OpenTelemetry variables: on when
/// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT` is set (and `OTEL_SDK_DISABLED` is not
/// `true`, and `OTEL_TRACES_EXPORTER` is not `none`), off otherwise.
///
/// Every variable is checked here, so a typo is one clear line at start instead of a warning and a silently different
/// set-up.
public struct TraceSettings: Sendable, Equatable {
    /// Where spans are posted: the traces endpoint as given, or `<OTEL_EXPORTER_OTLP_ENDPOINT>/v1/traces`.
    public var tracesURL: String
    /// `OTEL_SERVICE_NAME`, default `cruddur` (or the Lambda's name).
    public var serviceName: String
    public var encoding: Encoding
    /// `OTEL_EXPORTER_OTLP_(TRACES_)HEADERS`, values percent-decoded. Internal: a value may be a secret (Honeycomb's
    /// team key), so only ``headerNames`` leave this module.
    var headers: [Header]
    /// `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG`; `parentbased_always_on` by default.
    public var sampler: TraceSampler
    /// `OTEL_BSP_SCHEDULE_DELAY`, when set (the exporter's caller picks the default: 5 s for a server).
    public var scheduleDelay: Duration?
    /// `OTEL_BSP_EXPORT_TIMEOUT` (30 s): how long one batch may take, retries included.
    public var exportTimeout: Duration
    /// `OTEL_EXPORTER_OTLP_(TRACES_)TIMEOUT` (10 s): how long one HTTP request to the collector may take.
    public var requestTimeout: Duration
    /// `OTEL_BSP_MAX_QUEUE_SIZE` (2048): finished spans waiting to leave; more are dropped and counted.
    public var maxQueueSize: Int
    /// `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` (512, at most the queue's size).
    public var maxExportBatchSize: Int
    /// `OTEL_RESOURCE_ATTRIBUTES`, values percent-decoded (`service.name` comes from ``serviceName``).
    public var resourceAttributes: [String: String]

    /// The names (never the values) of the exporter's headers: what may be said in a log line.
    public var headerNames: [String] { headers.map(\.name) }

    struct Header: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
        let name: String
        let value: String

        /// The name only: the value may be a secret.
        var description: String { "\(name)=<redacted>" }
        var debugDescription: String { description }
    }

    public enum Encoding: String, Sendable, Equatable {
        case protobuf = "http/protobuf"
        case json = "http/json"
    }

    /// The settings `environment` asks for; nil when traces are off.
    public static func fromEnvironment(_ environment: [String: String], defaultServiceName: String) throws(TraceSettingsError) -> TraceSettings? {
        func value(_ name: String) -> String? {
            guard let value = environment[name]?.trimmingWhitespace(), !value.isEmpty else { return nil }
            return value
        }
        if let disabled = value("OTEL_SDK_DISABLED") {
            switch disabled.lowercased() {
            case "true": return nil
            case "false": break
            default: throw TraceSettingsError(variable: "OTEL_SDK_DISABLED", value: disabled, expected: "true or false")
            }
        }
        if let exporter = value("OTEL_TRACES_EXPORTER") {
            switch exporter {
            case "none": return nil
            case "otlp": break
            default: throw TraceSettingsError(variable: "OTEL_TRACES_EXPORTER", value: exporter, expected: "otlp or none")
            }
        }
        let tracesURL: String
        if let endpoint = value("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
            try checkURL(endpoint, variable: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            tracesURL = endpoint
        } else if let endpoint = value("OTEL_EXPORTER_OTLP_ENDPOINT") {
            try checkURL(endpoint, variable: "OTEL_EXPORTER_OTLP_ENDPOINT")
            tracesURL = endpoint.hasSuffix("/") ? endpoint + "v1/traces" : endpoint + "/v1/traces"
        } else {
            return nil
        }
        let encodingVariable =
            value("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") == nil ? "OTEL_EXPORTER_OTLP_PROTOCOL" : "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
        var encoding = Encoding.protobuf
        if let named = value(encodingVariable) {
            guard let known = Encoding(rawValue: named) else {
                throw TraceSettingsError(
                    variable: encodingVariable, value: named,
                    expected: named == "grpc" ? "http/protobuf or http/json (this build exports over HTTP only)" : "http/protobuf or http/json")
            }
            encoding = known
        }
        if let compression = value("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION") ?? value("OTEL_EXPORTER_OTLP_COMPRESSION"), compression != "none" {
            throw TraceSettingsError(
                variable: "OTEL_EXPORTER_OTLP_COMPRESSION", value: compression, expected: "none (this build sends batches uncompressed)")
        }
        if let propagators = value("OTEL_PROPAGATORS") {
            for name in propagators.split(separator: ",").map({ String($0).trimmingWhitespace() })
            where !["tracecontext", "baggage", "none"].contains(name) {
                throw TraceSettingsError(
                    variable: "OTEL_PROPAGATORS", value: propagators, expected: "tracecontext (W3C Trace Context, the only propagator built in)")
            }
        }
        let headers = try headers(value("OTEL_EXPORTER_OTLP_TRACES_HEADERS") ?? value("OTEL_EXPORTER_OTLP_HEADERS"))
        let sampler = try sampler(named: value("OTEL_TRACES_SAMPLER"), argument: value("OTEL_TRACES_SAMPLER_ARG"))
        func milliseconds(_ variable: String) throws(TraceSettingsError) -> Duration? {
            guard let text = value(variable) else { return nil }
            guard let count = Int(text), (0...3_600_000).contains(count) else {
                throw TraceSettingsError(variable: variable, value: text, expected: "milliseconds, from 0 to 3600000")
            }
            return .milliseconds(count)
        }
        func count(_ variable: String) throws(TraceSettingsError) -> Int? {
            guard let text = value(variable) else { return nil }
            guard let count = Int(text), (1...1_000_000).contains(count) else {
                throw TraceSettingsError(variable: variable, value: text, expected: "a whole number from 1 to 1000000")
            }
            return count
        }
        let scheduleDelay = try milliseconds("OTEL_BSP_SCHEDULE_DELAY")
        let exportTimeout = try milliseconds("OTEL_BSP_EXPORT_TIMEOUT") ?? .seconds(30)
        let genericTimeout = try milliseconds("OTEL_EXPORTER_OTLP_TIMEOUT")
        let requestTimeout = try milliseconds("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT") ?? genericTimeout ?? .seconds(10)
        let maxQueueSize = try count("OTEL_BSP_MAX_QUEUE_SIZE") ?? 2048
        let maxExportBatchSize = min(try count("OTEL_BSP_MAX_EXPORT_BATCH_SIZE") ?? 512, maxQueueSize)
        var resourceAttributes: [String: String] = [:]
        if let text = value("OTEL_RESOURCE_ATTRIBUTES") {
            for pair in text.split(separator: ",", omittingEmptySubsequences: true) {
                let parts = pair.split(separator: "=", maxSplits: 1)
                let key = parts.first.map { String($0).trimmingWhitespace() } ?? ""
                guard parts.count == 2, !key.isEmpty, let decoded = percentDecoded(String(parts[1]).trimmingWhitespace()) else {
                    throw TraceSettingsError(
                        variable: "OTEL_RESOURCE_ATTRIBUTES", value: text, expected: "key=value pairs separated by commas (values percent-encoded)")
                }
                resourceAttributes[key] = decoded
            }
        }
        return TraceSettings(
            tracesURL: tracesURL, serviceName: value("OTEL_SERVICE_NAME") ?? resourceAttributes["service.name"] ?? defaultServiceName,
            encoding: encoding, headers: headers, sampler: sampler, scheduleDelay: scheduleDelay, exportTimeout: exportTimeout,
            requestTimeout: requestTimeout, maxQueueSize: maxQueueSize, maxExportBatchSize: maxExportBatchSize,
            resourceAttributes: resourceAttributes)
    }

    private static func checkURL(_ text: String, variable: String) throws(TraceSettingsError) {
        let lowercased = text.lowercased()
        let rest: Substring
        if lowercased.hasPrefix("http://") {
            rest = text.dropFirst(7)
        } else if lowercased.hasPrefix("https://") {
            rest = text.dropFirst(8)
        } else {
            throw TraceSettingsError(variable: variable, value: text, expected: "an http:// or https:// URL")
        }
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard !authority.isEmpty, !authority.contains("@"), !text.contains(where: { $0.isWhitespace }) else {
            throw TraceSettingsError(variable: variable, value: text, expected: "an http:// or https:// URL with a host (and no user or password)")
        }
    }

    /// `name=value` pairs separated by commas (W3C Baggage form, values percent-encoded).
    private static func headers(_ text: String?) throws(TraceSettingsError) -> [Header] {
        guard let text else { return [] }
        var headers: [Header] = []
        for pair in text.split(separator: ",", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1)
            let name = parts.first.map { String($0).trimmingWhitespace() } ?? ""
            let tokenCharacters = Set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
            guard parts.count == 2, !name.isEmpty, name.allSatisfy({ tokenCharacters.contains($0) }),
                let value = percentDecoded(String(parts[1]).trimmingWhitespace()),
                value.unicodeScalars.allSatisfy({ $0 == "\t" || (0x20...0x7E).contains($0.value) })
            else {
                // The value may be a secret (Honeycomb's team key): the error names the variable, never its text.
                throw TraceSettingsError(
                    variable: "OTEL_EXPORTER_OTLP_HEADERS", value: nil, expected: "name=value pairs separated by commas (values percent-encoded)")
            }
            headers.append(Header(name: name.lowercased(), value: value))
        }
        return headers
    }

    private static func sampler(named sampler: String?, argument: String?) throws(TraceSettingsError) -> TraceSampler {
        var ratio = 1.0
        if let argument, sampler == "traceidratio" || sampler == "parentbased_traceidratio" {
            guard let given = Double(argument), (0...1).contains(given) else {
                throw TraceSettingsError(variable: "OTEL_TRACES_SAMPLER_ARG", value: argument, expected: "a ratio from 0 to 1")
            }
            ratio = given
        }
        switch sampler ?? "parentbased_always_on" {
        case "always_on": return TraceSampler(followsParent: false, ratio: 1)
        case "always_off": return TraceSampler(followsParent: false, ratio: 0)
        case "traceidratio": return TraceSampler(followsParent: false, ratio: ratio)
        case "parentbased_always_on": return TraceSampler(followsParent: true, ratio: 1)
        case "parentbased_always_off": return TraceSampler(followsParent: true, ratio: 0)
        case "parentbased_traceidratio": return TraceSampler(followsParent: true, ratio: ratio)
        default:
            let samplers = [
                "always_off", "always_on", "parentbased_always_off", "parentbased_always_on", "parentbased_traceidratio", "traceidratio",
            ]
            throw TraceSettingsError(variable: "OTEL_TRACES_SAMPLER", value: sampler, expected: samplers.joined(separator: ", "))
        }
    }

    /// `%XX` sequences decoded (UTF-8); nil when one is malformed.
    private static func percentDecoded(_ text: String) -> String? {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next(), let low = iterator.next(), let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
            else { return nil }
            bytes.append(value)
        }
        return String(validating: bytes, as: UTF8.self)
    }
}

/// Which traces are recorded and exported: the standard samplers, as one rule. A root span (no parent) is sampled
/// when its trace id falls in the first `ratio` of the id space; with `followsParent`, a child does what its
/// parent (local, or the caller's `traceparent`) did.
public struct TraceSampler: Sendable, Equatable {
    public var followsParent: Bool
    public var ratio: Double

    public init(followsParent: Bool, ratio: Double) {
        self.followsParent = followsParent
        self.ratio = ratio
    }

    func samples(traceID: TraceID, parent: SpanIdentity?) -> Bool {
        if followsParent, let parent { return parent.sampled }
        if ratio >= 1 { return true }
        if ratio <= 0 { return false }
        // The trace id's last 63 bits, the part W3C requires to be random, against the ratio of their range.
        return traceID.low & 0x7FFF_FFFF_FFFF_FFFF < UInt64(ratio * 9_223_372_036_854_775_808.0)
    }
}

/// An `OTEL_*` variable with a value Cruddur cannot use.
public struct TraceSettingsError: Error, CustomStringConvertible, Equatable {
    public let variable: String
    /// The value, when it may be shown (header values are never shown).
    public let value: String?
    public let expected: String

    public var description: String {
        guard let value else { return "\(variable) must be \(expected)" }
        let shown = String(value.unicodeScalars.filter { (0x20...0x7E).contains($0.value) }.prefix(80).map(Character.init))
        return "\(variable) '\(shown)' must be \(expected)"
    }
}

extension String {
    fileprivate func trimmingWhitespace() -> String {
        String(drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }
}
