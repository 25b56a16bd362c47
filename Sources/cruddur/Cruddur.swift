import ArgumentParser

/// The `cruddur` command: the API server and the tools around its database, RDS and Lambda.
@main
struct Cruddur: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cruddur",
        abstract: "Cruddur: ephemeral micro-blogging on PostgreSQL.",
        subcommands: [ServeCommand.self, DBCommand.self, RDSCommand.self]
    )
}
