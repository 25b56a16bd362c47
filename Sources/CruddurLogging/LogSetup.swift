import Logging
import Synchronization

/// The logging set-up every Cruddur executable shares (`cruddur` and the Lambda's `bootstrap`): one line per event
/// on stderr (which Lambda and containers collect), at the level `LOG_LEVEL` names, as text or, with
/// `LOG_FORMAT=json`, as one JSON object per line.
public enum LogSetup {
    private static let installed = Mutex(false)

    /// A logger labelled `label`, at `LOG_LEVEL` (`trace` … `critical`), else `defaultLevel`. Installs the stderr
    /// handler in `LOG_FORMAT` first, once per process, whoever asks first (an unknown format is text here;
    /// ``LogFormat/init(environment:)`` is where a command refuses it). `metadataProvider` adds metadata to every line
    /// at the moment it is written (e.g. the trace id of the request being served); the first caller's is kept.
    public static func logger(
        label: String, defaultLevel: Logger.Level, environment: [String: String], metadataProvider: Logger.MetadataProvider? = nil
    ) -> Logger {
        let format = (try? LogFormat(environment: environment)) ?? .text
        installed.withLock { installed in
            guard !installed else { return }
            LoggingSystem.bootstrap(
                { label, provider in
                    var handler = LineLogHandler(label: label, format: format)
                    handler.metadataProvider = provider
                    return handler
                }, metadataProvider: metadataProvider)
            installed = true
        }
        var logger = Logger(label: label)
        logger.logLevel = environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? defaultLevel
        return logger
    }
}

/// How log lines are written: `LOG_FORMAT=text` (the default) or `json`.
public enum LogFormat: String, Sendable {
    case text
    case json

    /// `LOG_FORMAT` from the environment; unset or empty is text.
    public init(environment: [String: String]) throws(LogFormatError) {
        switch environment["LOG_FORMAT"] {
        case nil, "": self = .text
        case let value?:
            guard let format = LogFormat(rawValue: value) else { throw LogFormatError(value: value) }
            self = format
        }
    }
}

/// `LOG_FORMAT` named neither `text` nor `json`.
public struct LogFormatError: Error, CustomStringConvertible {
    public let value: String
    public var description: String {
        "LOG_FORMAT '\(String(value.unicodeScalars.filter { (0x20...0x7E).contains($0.value) }.prefix(40)))' must be text or json"
    }
}
