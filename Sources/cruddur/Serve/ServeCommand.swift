import ArgumentParser

/// `cruddur serve`: runs the HTTP API.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve", abstract: "Run the Cruddur HTTP API.")
    func run() async throws {}
}
