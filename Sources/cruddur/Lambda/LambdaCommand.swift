import ArgumentParser

/// `cruddur lambda …`: the Cognito post-confirmation function, packaged for AWS or run once locally.
struct LambdaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lambda",
        abstract: "Package the Cognito post-confirmation Lambda, or run it once against the development database.",
        subcommands: [LambdaPackage.self, LambdaInvoke.self]
    )
}
