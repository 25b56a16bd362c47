import ArgumentParser
import CruddurAWS
import Foundation

/// `cruddur rds delete`: deletes the instance, after a final snapshot unless told not to; refuses while deletion protection is on.
struct RDSDelete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete",
        abstract: "Delete the instance (a final snapshot first, unless --skip-final-snapshot).",
        discussion: """
            An instance with deletion protection is left alone unless --lift-deletion-protection is given too. A read replica \
            is deleted without a final snapshot (RDS takes none of a replica: its data stays in its source).
            """
    )

    @OptionGroup var aws: AWSOptions
    @OptionGroup var instance: InstanceOptions

    @Flag(help: "Delete without a final snapshot: the data is gone for good.")
    var skipFinalSnapshot = false

    @Option(help: ArgumentHelp("The final snapshot's name (default: <identifier>-final-<UTC time>).", valueName: "name"))
    var finalSnapshotIdentifier: String?

    @Flag(help: "Turn deletion protection off first (the deliberate second step deletion protection asks for).")
    var liftDeletionProtection = false

    func validate() throws {
        if skipFinalSnapshot && finalSnapshotIdentifier != nil {
            throw ValidationError("--skip-final-snapshot and --final-snapshot-identifier contradict each other; give one")
        }
        if let finalSnapshotIdentifier, !(RDSClient.isValidIdentifier(finalSnapshotIdentifier) && finalSnapshotIdentifier.count <= 255) {
            throw ValidationError(
                "'\(finalSnapshotIdentifier)' is not a valid snapshot identifier (letters, digits and single hyphens, starting with a letter)")
        }
    }

    func run() async throws {
        try await reportingFailures {
            let client = RDSClient(try aws.client(logger: makeCommandLogger()))
            let identifier = instance.identifier
            let current = try await client.describeDBInstance(identifier)
            // A read replica's data is its source's: RDS takes no final snapshot of one (and refuses to be asked).
            let replicaOf = current.readReplicaSourceIdentifier
            if let replicaOf, let finalSnapshotIdentifier {
                throw CommandFailure(
                    "\(identifier) is a read replica of \(replicaOf): RDS takes no final snapshot of a replica (its data stays in \(replicaOf)), so nothing was deleted; run without --final-snapshot-identifier \(finalSnapshotIdentifier)"
                )
            }
            if current.deletionProtection {
                guard liftDeletionProtection else {
                    throw CommandFailure(
                        "\(identifier) has deletion protection on, so nothing was deleted; to delete it, run `cruddur rds delete --identifier \(identifier) --lift-deletion-protection` (or `aws rds modify-db-instance --db-instance-identifier \(identifier) --no-deletion-protection --apply-immediately` first)"
                    )
                }
                _ = try await client.disableDeletionProtection(identifier)
                writeToStandardError("cruddur: turned deletion protection off for \(identifier)\n")
            }
            let snapshot = skipFinalSnapshot || replicaOf != nil ? nil : (finalSnapshotIdentifier ?? defaultSnapshotName(identifier))
            let deleting = try await client.deleteDBInstance(identifier, finalSnapshotIdentifier: snapshot)
            if aws.json {
                try printJSON(DeleteResult(instance: deleting, finalSnapshotIdentifier: snapshot))
            } else if let snapshot {
                print("\(identifier): \(deleting.status), final snapshot \(snapshot)")
            } else if let replicaOf {
                print("\(identifier): \(deleting.status), no final snapshot (a read replica: its data stays in \(replicaOf))")
            } else {
                print("\(identifier): \(deleting.status), no final snapshot")
            }
        }
    }

    struct DeleteResult: Encodable {
        let instance: DBInstance
        let finalSnapshotIdentifier: String?
    }

    private func defaultSnapshotName(_ identifier: String) -> String {
        var seconds = time(nil)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let stamp = String(
            format: "%04d%02d%02d-%02d%02d%02d", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
            Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec)
        )
        let base = String(identifier.prefix(40)).trimmingCharacters(in: CharacterSet(charactersIn: "-"))
        return "\(base)-final-\(stamp)"
    }
}
