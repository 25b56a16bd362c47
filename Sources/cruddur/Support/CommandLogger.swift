import CruddurLogging
import Foundation
import Logging

/// A command's logger: warnings and errors only (a command's result is its output), unless `LOG_LEVEL` says otherwise.
func makeCommandLogger() -> Logger {
    LogSetup.logger(label: "cruddur-cli", defaultLevel: .warning, environment: ProcessInfo.processInfo.environment)
}
