import Foundation
import Logging

/// Logs to stderr at `LOG_LEVEL` (default `info`).
func makeLogger(label: String) -> Logger {
    var logger = Logger(label: label)
    let level = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:))
    logger.logLevel = level ?? .info
    return logger
}

/// Installs the stderr log handler once per process, before any logger is made.
func bootstrapLogging() {
    LoggingSystem.bootstrap(StreamLogHandler.standardError)
}
