import ArgumentParser
import CruddurAWS

/// `cruddur rds start`: starts a stopped instance.
struct RDSStart: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "start", abstract: "Start the stopped instance.")

    @OptionGroup var aws: AWSOptions
    @OptionGroup var instance: InstanceOptions

    func run() async throws {
        try await reportingFailures {
            let client = RDSClient(try aws.client(logger: makeCommandLogger()))
            let starting = try await client.startDBInstance(instance.identifier)
            if aws.json {
                try printJSON(starting)
            } else {
                print("\(starting.identifier): \(starting.status) (`cruddur rds status --wait available` waits)")
            }
        }
    }
}
