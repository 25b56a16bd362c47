import ArgumentParser
import CruddurDatabase

/// `cruddur db wait`: waits for the server to accept connections (for scripts and containers).
struct DBWait: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "wait", abstract: "Wait until the server accepts connections.")

    @OptionGroup var target: TargetSelection

    @Option(help: ArgumentHelp("Give up after this many seconds.", valueName: "seconds"))
    var timeout = 30

    func validate() throws {
        guard (1...3600).contains(timeout) else { throw ValidationError("--timeout must be from 1 to 3600 seconds") }
    }

    func run() async throws {
        try await target.withOpened(waitingUpTo: .seconds(timeout)) { opened, _ in
            print("\(opened.settings) accepts connections")
        }
    }
}
