import ArgumentParser
import CruddurAWS
import Foundation

/// `cruddur rds status`: the instance's state, endpoint and port; `--wait` polls until it is available or stopped.
struct RDSStatus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the instance's state, endpoint and settings; optionally wait for a state."
    )

    enum Target: String, ExpressibleByArgument, CaseIterable {
        case available, stopped
    }

    @OptionGroup var aws: AWSOptions
    @OptionGroup var instance: InstanceOptions

    @Option(help: ArgumentHelp("Poll until the instance is in this state.", valueName: "available|stopped"))
    var wait: Target?

    @Option(help: ArgumentHelp("With --wait: give up after this many seconds.", valueName: "seconds"))
    var timeout = 1800

    @Option(help: ArgumentHelp("With --wait: seconds between polls.", valueName: "seconds"))
    var interval = 15

    func validate() throws {
        guard (1...86400).contains(timeout) else { throw ValidationError("--timeout must be from 1 to 86400 seconds") }
        guard (1...600).contains(interval) else { throw ValidationError("--interval must be from 1 to 600 seconds") }
    }

    func run() async throws {
        try await reportingFailures {
            let client = RDSClient(try aws.client(logger: makeCommandLogger()))
            var current = try await client.describeDBInstance(instance.identifier)
            if let wait {
                current = try await Self.poll(client, from: current, until: wait.rawValue, timeout: .seconds(timeout), interval: .seconds(interval))
            }
            if aws.json {
                try printJSON(current)
            } else {
                print(current.humanSummary)
            }
        }
    }

    /// States from which waiting cannot end well.
    static let hopeless: Set<String> = [
        "failed", "deleting", "inaccessible-encryption-credentials", "incompatible-network", "incompatible-option-group",
        "incompatible-parameters", "incompatible-restore", "restore-error", "storage-full",
    ]

    /// Polls until the state is `target`, writing one progress line per poll on stderr.
    static func poll(
        _ client: RDSClient, from first: DBInstance, until target: String, timeout: Duration, interval: Duration
    ) async throws -> DBInstance {
        let clock = ContinuousClock()
        let start = clock.now
        var current = first
        let terminal = isatty(STDERR_FILENO) == 1
        while current.status != target {
            if hopeless.contains(current.status) {
                finishProgressLine(terminal)
                throw CommandFailure("\(current.identifier) is \(current.status); it will not become \(target) by waiting")
            }
            let elapsed = clock.now - start
            progress("waiting for \(current.identifier) to be \(target): \(current.status) after \(elapsed.components.seconds) s", terminal: terminal)
            guard elapsed + interval <= timeout else {
                finishProgressLine(terminal)
                throw CommandFailure(
                    "\(current.identifier) did not become \(target) within \(timeout.components.seconds) s (it is \(current.status))")
            }
            try await Task.sleep(for: interval)
            current = try await client.describeDBInstance(current.identifier)
        }
        if clock.now - start > .zero, first.status != target {
            progress("\(current.identifier) is \(target) after \((clock.now - start).components.seconds) s", terminal: terminal)
            finishProgressLine(terminal)
        }
        return current
    }

    /// A progress line: rewritten in place on a terminal, one line each otherwise.
    private static func progress(_ text: String, terminal: Bool) {
        writeToStandardError(terminal ? "\r\u{1B}[K" + text : text + "\n")
    }

    private static func finishProgressLine(_ terminal: Bool) {
        if terminal { writeToStandardError("\n") }
    }
}
