/// Whether and how traces are exported, from the standard OpenTelemetry variables: on when
/// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT` is set (and `OTEL_SDK_DISABLED` is not
/// `true`, and `OTEL_TRACES_EXPORTER` is not `none`), off otherwise.
///
/// The exporter reads the variables itself; this type checks the ones it depends on first, so a typo is one clear
/// line at start instead of a warning and a silently different set-up.
public struct TraceSettings: Sendable, Equatable {
    /// Where spans are posted: the traces endpoint as given, or `<OTEL_EXPORTER_OTLP_ENDPOINT>/v1/traces`.
    public var tracesURL: String
    /// `OTEL_SERVICE_NAME`, default `cruddur` (or the Lambda's name).
    public var serviceName: String
    public var encoding: Encoding
    /// The names (never the values) of `OTEL_EXPORTER_OTLP_HEADERS`: what may be said in a log line.
    public var headerNames: [String]

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
        let headerNames = try headers(value("OTEL_EXPORTER_OTLP_TRACES_HEADERS") ?? value("OTEL_EXPORTER_OTLP_HEADERS"))
        try checkSampler(sampler: value("OTEL_TRACES_SAMPLER"), argument: value("OTEL_TRACES_SAMPLER_ARG"))
        for variable in ["OTEL_BSP_SCHEDULE_DELAY", "OTEL_BSP_EXPORT_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"] {
            if let text = value(variable), Int(text).map({ $0 < 0 || $0 > 3_600_000 }) ?? true {
                throw TraceSettingsError(variable: variable, value: text, expected: "milliseconds, from 0 to 3600000")
            }
        }
        for variable in ["OTEL_BSP_MAX_QUEUE_SIZE", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"] {
            if let text = value(variable), Int(text).map({ $0 < 1 || $0 > 1_000_000 }) ?? true {
                throw TraceSettingsError(variable: variable, value: text, expected: "a whole number from 1 to 1000000")
            }
        }
        return TraceSettings(
            tracesURL: tracesURL, serviceName: value("OTEL_SERVICE_NAME") ?? defaultServiceName, encoding: encoding, headerNames: headerNames)
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

    /// `name=value` pairs separated by commas (W3C Baggage form, values percent-encoded); returns the names.
    private static func headers(_ text: String?) throws(TraceSettingsError) -> [String] {
        guard let text else { return [] }
        var names: [String] = []
        for pair in text.split(separator: ",", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1)
            let name = parts.first.map { String($0).trimmingWhitespace() } ?? ""
            let tokenCharacters = Set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
            guard parts.count == 2, !name.isEmpty, name.allSatisfy({ tokenCharacters.contains($0) }) else {
                // The value may be a secret (Honeycomb's team key): the error names the variable, never its text.
                throw TraceSettingsError(
                    variable: "OTEL_EXPORTER_OTLP_HEADERS", value: nil, expected: "name=value pairs separated by commas (values percent-encoded)")
            }
            names.append(name.lowercased())
        }
        return names
    }

    private static func checkSampler(sampler: String?, argument: String?) throws(TraceSettingsError) {
        let ratioSamplers: Set<String> = ["traceidratio", "parentbased_traceidratio"]
        let samplers = ratioSamplers.union(["always_on", "always_off", "parentbased_always_on", "parentbased_always_off"])
        if let sampler, !samplers.contains(sampler) {
            throw TraceSettingsError(variable: "OTEL_TRACES_SAMPLER", value: sampler, expected: samplers.sorted().joined(separator: ", "))
        }
        if let argument, ratioSamplers.contains(sampler ?? "") {
            guard let ratio = Double(argument), (0...1).contains(ratio) else {
                throw TraceSettingsError(variable: "OTEL_TRACES_SAMPLER_ARG", value: argument, expected: "a ratio from 0 to 1")
            }
        }
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
