import ArgumentParser

/// `cruddur rds …`: the production database on Amazon RDS.
struct RDSCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rds",
        abstract: "Create, inspect, stop, start and delete the RDS instance; point its security-group rule at an IP.",
        subcommands: []
    )
}
