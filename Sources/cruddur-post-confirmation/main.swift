import CruddurLambda
import Foundation
import Logging

// The Lambda's `bootstrap`: logs go to stderr, which Lambda sends to CloudWatch.
LoggingSystem.bootstrap(StreamLogHandler.standardError)
let logger = {
    var logger = Logger(label: PostConfirmationRuntime.applicationName)
    logger.logLevel = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
    return logger
}()
exit(await PostConfirmationRuntime.main(environment: ProcessInfo.processInfo.environment, logger: logger))
