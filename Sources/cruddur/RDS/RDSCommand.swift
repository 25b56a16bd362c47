import ArgumentParser

/// `cruddur rds …`: the production database on Amazon RDS.
struct RDSCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rds",
        abstract: "Create, inspect, stop, start and delete the RDS instance and its read replica; point its security-group rule at an IP.",
        discussion: """
            Credentials and region come from --profile/--region, the AWS_* environment variables or ~/.aws/credentials \
            and ~/.aws/config, as for the aws CLI; AWS_ENDPOINT_URL or --endpoint-url sends the calls elsewhere.
            """,
        subcommands: [
            RDSCreate.self, RDSCreateReplica.self, RDSStatus.self, RDSStop.self, RDSStart.self, RDSDelete.self, RDSAllowIP.self,
            RDSURL.self, RDSAuthTokenCommand.self,
        ]
    )
}
