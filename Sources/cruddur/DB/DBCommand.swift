import ArgumentParser

/// `cruddur db …`: the seed's `bin/db-*` scripts, done right, for the local cluster, CONNECTION_URL or --prod.
struct DBCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Create, migrate, seed, inspect and connect to the database.",
        discussion: """
            Target: CONNECTION_URL, or the project's local cluster when it is unset; --prod targets \
            PROD_CONNECTION_URL; --url overrides both (without a password). Destructive commands against \
            --prod need --yes-i-mean-production.
            """,
        subcommands: [
            DBCreate.self, DBDrop.self, DBSchemaLoad.self, DBMigrate.self, DBRollback.self, DBStatus.self,
            DBSeed.self, DBSetup.self, DBReset.self, DBConnect.self, DBSessions.self, DBWait.self, DBStatements.self, DBWhere.self, DBFeedCursor.self,
        ]
    )
}
