import CruddurLambda
import CruddurLogging
import Foundation

// The Lambda's `bootstrap`: logs go to stderr, which Lambda sends to CloudWatch.
let environment = ProcessInfo.processInfo.environment
let logger = LogSetup.logger(label: PostConfirmationRuntime.applicationName, defaultLevel: .info, environment: environment)
exit(await PostConfirmationRuntime.main(environment: environment, logger: logger))
