import ArgumentParser
import CruddurAWS
import Foundation
import Logging

/// Where `cruddur rds` commands send their AWS calls, and how they print.
struct AWSOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The AWS region (default: AWS_REGION, AWS_DEFAULT_REGION or the profile's region).", valueName: "region"))
    var region: String?

    @Option(
        help: ArgumentHelp(
            "A profile of ~/.aws/credentials and ~/.aws/config (default: AWS_PROFILE, else the environment's keys).", valueName: "name"))
    var profile: String?

    @Option(help: ArgumentHelp("Send AWS calls to this URL instead (default: AWS_ENDPOINT_URL), e.g. a local moto_server.", valueName: "url"))
    var endpointURL: String?

    @Flag(help: "Print JSON for scripts instead of text for people.")
    var json = false

    @Option(help: ArgumentHelp("Give up on an AWS call after this many seconds.", valueName: "seconds"))
    var requestTimeout = 30

    func validate() throws {
        guard (1...300).contains(requestTimeout) else { throw ValidationError("--request-timeout must be from 1 to 300 seconds") }
    }

    /// An instance RDS has begun to create: JSON with `--json`, else its summary and what is happening, then what to run next.
    func reportCreating(_ created: DBInstance, _ what: String, next: [String]) throws {
        if json {
            try printJSON(created)
            return
        }
        print(created.humanSummary)
        print("")
        print("RDS is creating \(what) (it takes several minutes). Next: cruddur rds status --identifier \(created.identifier) --wait available")
        for line in next { print(line) }
    }

    /// The resolved configuration and a client for it.
    func client(logger: Logger) throws -> AWSClient {
        let configuration = try AWSConfiguration.resolve(region: region, profile: profile, endpointURL: endpointURL)
        return AWSClient(configuration: configuration, timeout: .seconds(requestTimeout), logger: logger)
    }
}

/// The instance a command acts on.
struct InstanceOptions: ParsableArguments {
    @Option(
        name: [.customLong("identifier"), .customLong("db-instance-identifier")],
        help: ArgumentHelp("The RDS instance identifier.", valueName: "id")
    )
    var identifier = "cruddur-db-instance"

    func validate() throws {
        guard RDSClient.isValidIdentifier(identifier) else {
            throw ValidationError(
                "'\(identifier)' is not a valid RDS instance identifier (1–63 letters, digits and single hyphens, starting with a letter)")
        }
    }
}

/// The protections `rds create` and `rds create-replica` turn on, each with its `--no-…` escape.
struct InstanceProtectionOptions: ParsableArguments {
    @Flag(inversion: .prefixedNo, help: "Refuse deletion until protection is lifted.")
    var deletionProtection = true

    @Flag(inversion: .prefixedNo, help: "Allow IAM database authentication.")
    var iamDatabaseAuthentication = true

    @Flag(inversion: .prefixedNo, help: "Enable Performance Insights (7 days kept).")
    var performanceInsights = true
}

/// Prints a value as pretty, key-sorted JSON on stdout.
func printJSON<Value: Encodable>(_ value: Value) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

extension DBInstance {
    /// A few aligned lines for people.
    var humanSummary: String {
        var rows: [(String, String)] = [("instance", identifier), ("state", status)]
        if let endpointAddress {
            rows.append(("endpoint", endpointAddress))
        } else {
            rows.append(("endpoint", "(none yet)"))
        }
        if let port { rows.append(("port", String(port))) }
        rows.append(("engine", "\(engine) \(engineVersion ?? "")".trimmingCharacters(in: .whitespaces)))
        if let instanceClass { rows.append(("class", instanceClass)) }
        if let allocatedStorageGB {
            rows.append(("storage", "\(allocatedStorageGB) GB \(storageType ?? "")\(storageEncrypted ? ", encrypted" : ", NOT encrypted")"))
        }
        if let databaseName { rows.append(("database", databaseName)) }
        if let masterUsername { rows.append(("master user", masterUsername + (masterUserSecretArn != nil ? " (password in Secrets Manager)" : ""))) }
        rows.append(("public", publiclyAccessible ? "yes" : "no"))
        rows.append(("backups", backupRetentionDays.map { $0 == 0 ? "off" : "\($0) days" } ?? "unknown"))
        rows.append(("deletion protection", deletionProtection ? "on" : "off"))
        rows.append(("IAM auth", iamDatabaseAuthentication ? "on" : "off"))
        if !vpcSecurityGroupIds.isEmpty { rows.append(("security groups", vpcSecurityGroupIds.joined(separator: ", "))) }
        let width = rows.map(\.0.count).max() ?? 0
        return rows.map { $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.1 }.joined(separator: "\n")
    }
}
