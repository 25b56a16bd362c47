import ArgumentParser
import CruddurAWS

/// `cruddur rds stop`: stops the instance to save money (RDS starts it again by itself after 7 days).
struct RDSStop: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stop",
        abstract: "Stop the instance (AWS restarts a stopped instance after 7 days)."
    )

    @OptionGroup var aws: AWSOptions
    @OptionGroup var instance: InstanceOptions

    func run() async throws {
        try await reportingFailures {
            let client = RDSClient(try aws.client(logger: makeCommandLogger()))
            let stopping = try await client.stopDBInstance(instance.identifier)
            if aws.json {
                try printJSON(stopping)
            } else {
                print(
                    "\(stopping.identifier): \(stopping.status) (RDS starts a stopped instance again after 7 days; `cruddur rds status --wait stopped` waits)"
                )
            }
        }
    }
}
