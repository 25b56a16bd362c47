import ArgumentParser
import CruddurAWS
import Foundation

/// `cruddur rds create-replica`: a read replica of the instance, for `READ_CONNECTION_URL`, secure by default.
struct RDSCreateReplica: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create-replica",
        abstract: "Create a read replica of the instance (private, protected, IAM auth on, the source's class and security groups).",
        discussion: """
            The replica inherits the source's engine version, storage, encryption, port, parameter group and master \
            password; its backups are off (RDS's rule for new replicas). The source must keep automated backups \
            (--backup-retention above 0). Point READ_CONNECTION_URL at it with `cruddur rds url --reader`.
            """
    )

    @OptionGroup var aws: AWSOptions
    @OptionGroup(title: "Source") var instance: InstanceOptions

    @Option(help: ArgumentHelp("The replica's identifier (default: the source's, followed by -replica).", valueName: "id"))
    var replicaIdentifier: String?

    @Option(help: "The replica's instance class (default: the source's).")
    var instanceClass: String?

    @Option(help: "The availability zone, the source's or another, e.g. us-east-1b (default: RDS chooses).")
    var availabilityZone: String?

    @Flag(help: "Give the replica a public address (needed to reach it from a workstation through `cruddur rds allow-ip`).")
    var `public` = false

    @OptionGroup var protection: InstanceProtectionOptions

    /// The replica's identifier, given or derived from the source's.
    var replica: String {
        replicaIdentifier ?? instance.identifier + "-replica"
    }

    func validate() throws {
        if let replicaIdentifier, !RDSClient.isValidIdentifier(replicaIdentifier) {
            throw ValidationError(
                "--replica-identifier '\(replicaIdentifier)' is not a valid RDS instance identifier (1–63 letters, digits and single hyphens, starting with a letter)"
            )
        }
        if replicaIdentifier == nil, RDSClient.isValidIdentifier(instance.identifier), !RDSClient.isValidIdentifier(replica) {
            throw ValidationError(
                "'\(replica)' (the default replica identifier) is too long for RDS: give --replica-identifier with at most 63 characters")
        }
        guard replica.lowercased() != instance.identifier.lowercased() else {
            throw ValidationError("--replica-identifier must differ from the source instance's identifier")
        }
        if let instanceClass, !Self.isClassLike(instanceClass) {
            throw ValidationError("--instance-class must look like db.t3.micro")
        }
        if let availabilityZone, !Self.isZoneLike(availabilityZone) {
            throw ValidationError("--availability-zone must look like us-east-1a")
        }
    }

    func run() async throws {
        try await reportingFailures {
            let client = RDSClient(try aws.client(logger: makeCommandLogger()))
            let source = try await client.describeDBInstance(instance.identifier)
            guard (source.backupRetentionDays ?? 0) > 0 else {
                throw CommandFailure(
                    "\(source.identifier) keeps no automated backups, which RDS needs to make a replica; turn them on (backup retention 1 day or more) first"
                )
            }
            if let existing = try await client.findDBInstance(replica) {
                throw CommandFailure(
                    "an instance named \(existing.identifier) already exists (it is \(existing.status)); choose another --replica-identifier")
            }
            var request = RDSClient.ReplicaRequest(identifier: replica, sourceIdentifier: source.identifier)
            request.instanceClass = instanceClass ?? source.instanceClass
            request.availabilityZone = availabilityZone
            request.publiclyAccessible = `public`
            request.deletionProtection = protection.deletionProtection
            request.iamDatabaseAuthentication = protection.iamDatabaseAuthentication
            request.performanceInsights = protection.performanceInsights
            request.vpcSecurityGroupIds = source.vpcSecurityGroupIds

            let created = try await client.createReadReplica(request)
            try aws.reportCreating(
                created, "the read replica of \(source.identifier)",
                next: ["Then READ_CONNECTION_URL from: cruddur rds url --identifier \(source.identifier) --reader"])
        }
    }

    /// `db.` and then letters, digits, dots and hyphens, as instance classes are named.
    static func isClassLike(_ text: String) -> Bool {
        text.hasPrefix("db.") && text.count <= 64 && text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == ".") }
    }

    /// Lowercase letters, digits and hyphens, ending in a letter or digit, as availability zone names are.
    static func isZoneLike(_ text: String) -> Bool {
        guard (3...64).contains(text.count), let first = text.first, first.isLetter, let last = text.last, last.isLetter || last.isNumber else {
            return false
        }
        return text.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }
    }
}
