import Logging

/// The logging set-up every Cruddur executable shares (`cruddur` and the Lambda's `bootstrap`): one line per event
/// on stderr (which Lambda and containers collect), at the level `LOG_LEVEL` names.
public enum LogSetup {
    private static let installHandler: Void = LoggingSystem.bootstrap(StreamLogHandler.standardError)

    /// A logger labelled `label`, at `LOG_LEVEL` (`trace` … `critical`), else `defaultLevel`. Installs the stderr
    /// handler first, once per process, whoever asks first.
    public static func logger(label: String, defaultLevel: Logger.Level, environment: [String: String]) -> Logger {
        installHandler
        var logger = Logger(label: label)
        logger.logLevel = environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? defaultLevel
        return logger
    }
}
