import ArgumentParser
import CruddurDatabase

/// `cruddur db wait`: waits for the server to accept connections (for scripts and containers).
struct DBWait: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "wait", abstract: "Wait until the server accepts connections.")

    @OptionGroup var target: TargetOptions

    @Option(help: "Give up after this many seconds.")
    var timeout = 30

    func validate() throws {
        guard (1...3600).contains(timeout) else { throw ValidationError("--timeout must be from 1 to 3600 seconds") }
    }

    func run() async throws {
        try await target.withOpened { opened, logger in
            try await WaitForServer.until(opened.settings, timeout: .seconds(timeout), logger: logger)
            print("\(opened.settings) accepts connections")
        }
    }
}
