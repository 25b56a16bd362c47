import CruddurDatabase
import Foundation
import Testing

@testable import CruddurAWS

/// `cruddur rds create-replica` and `cruddur rds url --reader` against moto_server, read back with the `aws` CLI.
@Suite("cruddur rds create-replica and url --reader against moto_server", .serialized)
struct RDSReplicaCommandTests: RDSCommandTesting {
    /// Creates a source instance with `cruddur rds create` and the given extra arguments.
    func createSource(_ identifier: String, _ moto: MotoEndpoint, _ arguments: [String] = []) async throws {
        let created = try await cruddur(["rds", "create", "--identifier", identifier] + arguments, moto)
        #expect(created.status == 0, "\(created)")
    }

    /// Expects that no instance by this identifier exists.
    func expectAbsent(_ identifier: String, _ moto: MotoEndpoint, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let listed = try await moto.aws(["rds", "describe-db-instances", "--db-instance-identifier", identifier])
        #expect(listed.status != 0 && listed.stderr.contains("DBInstanceNotFound"), "\(listed)", sourceLocation: sourceLocation)
    }

    @Test(
        "create-replica with the defaults: <source>-replica, private even when the source is public, IAM auth, protected, the source's class and groups"
    )
    func createReplicaDefaults() async throws {
        let moto = try await TestMoto.shared.endpoint()
        let source = uniqueIdentifier("primary")
        let (groupId, _) = try await moto.makeSecurityGroupRule()
        try await createSource(source, moto, ["--public", "--instance-class", "db.t3.medium", "--vpc-security-group-id", groupId])

        let result = try await cruddur(["rds", "create-replica", "--identifier", source], moto)
        #expect(result.status == 0, "\(result)")
        let replica = "\(source)-replica"
        #expect(result.stdout.contains(replica))
        #expect(result.stdout.contains("cruddur rds status --identifier \(replica) --wait available"), "\(result)")
        #expect(result.stdout.contains("cruddur rds url --identifier \(source) --reader"), "\(result)")

        let described = try await describe(replica, moto)
        #expect(described["ReadReplicaSourceDBInstanceIdentifier"] as? String == source)
        #expect(described["PubliclyAccessible"] as? Bool == false)
        #expect(described["IAMDatabaseAuthenticationEnabled"] as? Bool == true)
        #expect(described["DeletionProtection"] as? Bool == true)
        #expect(described["CopyTagsToSnapshot"] as? Bool == true)
        #expect(described["StorageEncrypted"] as? Bool == true)
        #expect(described["DBInstanceClass"] as? String == "db.t3.medium")
        #expect(described["Engine"] as? String == "postgres")
        let groups = (described["VpcSecurityGroups"] as? [[String: Any]])?.compactMap { $0["VpcSecurityGroupId"] as? String }
        #expect(groups == [groupId])

        let primary = try await describe(source, moto)
        #expect(primary["ReadReplicaDBInstanceIdentifiers"] as? [String] == [replica])
        #expect(primary["PubliclyAccessible"] as? Bool == true, "the source is left as it was")
    }

    @Test("create-replica with --replica-identifier, --availability-zone, --instance-class and --json; a taken name or a missing source is one line")
    func createReplicaWithOptions() async throws {
        let moto = try await TestMoto.shared.endpoint()
        let source = uniqueIdentifier("primary")
        try await createSource(source, moto, ["--availability-zone", "us-east-1a"])
        let replica = uniqueIdentifier("reader")

        let result = try await cruddur(
            [
                "rds", "create-replica", "--db-instance-identifier", source, "--replica-identifier", replica, "--availability-zone", "us-east-1b",
                "--instance-class", "db.t3.small", "--json",
            ], moto)
        #expect(result.status == 0, "\(result)")
        #expect(result.json["identifier"] as? String == replica)
        #expect(result.json["readReplicaSourceIdentifier"] as? String == source)
        #expect(result.json["publiclyAccessible"] as? Bool == false)

        let described = try await describe(replica, moto)
        #expect(described["ReadReplicaSourceDBInstanceIdentifier"] as? String == source)
        #expect(described["AvailabilityZone"] as? String == "us-east-1b")
        #expect(described["DBInstanceClass"] as? String == "db.t3.small")
        #expect(described["PubliclyAccessible"] as? Bool == false)
        #expect(described["IAMDatabaseAuthenticationEnabled"] as? Bool == true)
        #expect(try await describe(source, moto)["AvailabilityZone"] as? String == "us-east-1a")

        let again = try await cruddur(["rds", "create-replica", "--identifier", source, "--replica-identifier", replica], moto)
        expectOneLineFailure(again, containing: "\(replica) already exists", moto)
        #expect(try await describe(source, moto)["ReadReplicaDBInstanceIdentifiers"] as? [String] == [replica], "no second replica recorded")

        let missing = uniqueIdentifier("missing")
        let noSource = try await cruddur(["rds", "create-replica", "--identifier", missing], moto)
        expectOneLineFailure(noSource, containing: "DBInstanceNotFound", moto)
        try await expectAbsent("\(missing)-replica", moto)
    }

    @Test("create-replica refuses bad arguments, and a source without backups, in one line and before creating anything")
    func createReplicaValidation() async throws {
        let moto = try await TestMoto.shared.endpoint()
        let source = uniqueIdentifier("primary")
        let cases: [([String], String)] = [
            (
                ["--identifier", source, "--replica-identifier", "1-bad--name"],
                "--replica-identifier '1-bad--name' is not a valid RDS instance identifier"
            ),
            (["--identifier", source, "--replica-identifier", source], "must differ from the source"),
            (["--identifier", "a" + String(repeating: "b", count: 60)], "give --replica-identifier"),
            (["--identifier", source, "--instance-class", "t3.micro"], "--instance-class must look like db.t3.micro"),
            (["--identifier", source, "--availability-zone", "US East 1"], "--availability-zone must look like us-east-1a"),
            (["--identifier", "bad_source"], "not a valid RDS instance identifier"),
            (["--identifier", source, "--request-timeout", "0"], "--request-timeout"),
        ]
        for (arguments, message) in cases {
            let result = try await cruddur(["rds", "create-replica"] + arguments, moto)
            expectOneLineFailure(result, containing: message, moto)
        }
        try await expectAbsent(source, moto)
        try await expectAbsent("\(source)-replica", moto)

        try await createSource(source, moto, ["--backup-retention", "0"])
        let noBackups = try await cruddur(["rds", "create-replica", "--identifier", source], moto)
        expectOneLineFailure(noBackups, containing: "keeps no automated backups", moto)
        try await expectAbsent("\(source)-replica", moto)
    }

    @Test("url --reader gives the replica's endpoint with the source's user, database and password; without a replica it is one line")
    func readerURL() async throws {
        let moto = try await TestMoto.shared.endpoint()
        let source = uniqueIdentifier("primary")
        try await createSource(source, moto)
        let home = makeTemporaryHome()

        let noReplica = try await runTool(
            cruddurExecutable, ["rds", "url", "--identifier", source, "--reader"], environment: moto.environment(home: home))
        expectOneLineFailure(noReplica, containing: "\(source) has no read replica", moto)
        #expect(noReplica.stderr.contains("cruddur rds create-replica --identifier \(source)"))
        #expect(noReplica.stdout.isEmpty)

        let replica = "\(source)-replica"
        #expect(try await cruddur(["rds", "create-replica", "--identifier", source], moto).status == 0)
        let replicaAddress = try #require((try await describe(replica, moto)["Endpoint"] as? [String: Any])?["Address"] as? String)
        let primaryAddress = try #require((try await describe(source, moto)["Endpoint"] as? [String: Any])?["Address"] as? String)
        #expect(replicaAddress != primaryAddress)

        let readerLine = try await runTool(
            cruddurExecutable, ["rds", "url", "--identifier", source, "--reader"], environment: moto.environment(home: home))
        #expect(readerLine.status == 0, "\(readerLine)")
        #expect(
            readerLine.stdout.trimmingCharacters(in: .newlines)
                == "postgresql://cruddurroot:<PASSWORD>@\(replicaAddress):5432/cruddur?sslmode=verify-full&sslrootcert=\(home)/.postgresql/rds-global-bundle.pem",
            "\(readerLine)")
        let writerLine = try await runTool(cruddurExecutable, ["rds", "url", "--identifier", source], environment: moto.environment(home: home))
        #expect(writerLine.stdout.contains("@\(primaryAddress):5432/"), "\(writerLine)")

        let secretArn = try #require((try await describe(source, moto)["MasterUserSecret"] as? [String: Any])?["SecretArn"] as? String)
        let secret = try await moto.aws(["secretsmanager", "get-secret-value", "--secret-id", secretArn])
        let secretString = try #require(secret.json["SecretString"] as? String)
        let password = try #require((try JSONSerialization.jsonObject(with: Data(secretString.utf8)) as? [String: Any])?["password"] as? String)

        let withPassword = try await cruddur(
            ["rds", "url", "--identifier", source, "--reader", "--with-password", "--ca-bundle", "/etc/rds/ca.pem", "--json"], moto)
        #expect(withPassword.status == 0, "\(withPassword)")
        #expect(withPassword.json["instance"] as? String == replica)
        #expect(withPassword.json["host"] as? String == replicaAddress)
        #expect(!withPassword.stderr.contains(password))
        let settings = try ConnectionSettings(url: try #require(withPassword.json["url"] as? String), environment: [:])
        #expect(settings.username == "cruddurroot")
        #expect(settings.password == password)
        #expect(settings.database == "cruddur")
        #expect(settings.sslMode == .verifyFull)
        if case .tcp(let host, let port) = settings.endpoint {
            #expect(host == replicaAddress && port == 5432)
        } else {
            Issue.record("not a TCP endpoint: \(settings.endpoint)")
        }

        let ofReplica = try await cruddur(["rds", "url", "--identifier", replica, "--reader"], moto)
        expectOneLineFailure(ofReplica, containing: "\(replica) has no read replica", moto)
    }

    @Test("delete on a read replica takes no final snapshot (RDS takes none of a replica) and leaves the source; asking for one is one line")
    func deleteReplica() async throws {
        let moto = try await TestMoto.shared.endpoint()
        let source = uniqueIdentifier("primary")
        try await createSource(source, moto)
        let replica = "\(source)-replica"
        #expect(try await cruddur(["rds", "create-replica", "--identifier", source], moto).status == 0)

        let asked = try await cruddur(
            ["rds", "delete", "--identifier", replica, "--lift-deletion-protection", "--final-snapshot-identifier", "replica-final"], moto)
        expectOneLineFailure(asked, containing: "\(replica) is a read replica of \(source)", moto)
        #expect(try await describe(replica, moto)["DeletionProtection"] as? Bool == true, "a refused delete changed nothing")

        let deleted = try await cruddur(["rds", "delete", "--identifier", replica, "--lift-deletion-protection"], moto)
        #expect(deleted.status == 0, "\(deleted)")
        #expect(deleted.stdout.contains("no final snapshot (a read replica: its data stays in \(source))"), "\(deleted)")
        let snapshots = try await moto.aws(["rds", "describe-db-snapshots", "--db-instance-identifier", replica])
        #expect(snapshots.status == 0, "\(snapshots)")
        #expect((snapshots.json["DBSnapshots"] as? [Any])?.isEmpty ?? true, "\(snapshots)")
        #expect(try await describe(source, moto)["DBInstanceIdentifier"] as? String == source)
    }

    @Test("url --reader when the only replica is in another region says so in one line")
    func readerInAnotherRegion() async throws {
        let moto = try await TestMoto.shared.endpoint()
        let source = uniqueIdentifier("primary")
        try await createSource(source, moto)
        let sourceArn = try #require(try await describe(source, moto)["DBInstanceArn"] as? String)
        let west = try await moto.aws([
            "rds", "create-db-instance-read-replica", "--region", "us-west-2", "--db-instance-identifier", "\(source)-west",
            "--source-db-instance-identifier", sourceArn,
        ])
        #expect(west.status == 0, "\(west)")
        let replicas = try #require(try await describe(source, moto)["ReadReplicaDBInstanceIdentifiers"] as? [String])
        #expect(replicas.count == 1 && replicas.allSatisfy { $0.hasPrefix("arn:aws:rds:us-west-2:") }, "\(replicas)")

        let result = try await cruddur(["rds", "url", "--identifier", source, "--reader"], moto)
        expectOneLineFailure(result, containing: "read replicas are all in other regions (\(replicas[0]))", moto)
    }

    @Test("DBInstance reads a replica's source and an instance's replicas; the replica request sends the secure settings")
    func parsingAndParameters() throws {
        let xml = """
            <DescribeDBInstancesResponse><DescribeDBInstancesResult><DBInstances><DBInstance>
            <DBInstanceIdentifier>db1</DBInstanceIdentifier><DBInstanceStatus>available</DBInstanceStatus>
            <ReadReplicaDBInstanceIdentifiers>
              <ReadReplicaDBInstanceIdentifier> db1-replica </ReadReplicaDBInstanceIdentifier>
              <ReadReplicaDBInstanceIdentifier>arn:aws:rds:eu-west-1:123456789012:db:db1-eu</ReadReplicaDBInstanceIdentifier>
            </ReadReplicaDBInstanceIdentifiers>
            <ReadReplicaSourceDBInstanceIdentifier>db0</ReadReplicaSourceDBInstanceIdentifier>
            </DBInstance></DBInstances></DescribeDBInstancesResult></DescribeDBInstancesResponse>
            """
        let tree = try #require(XMLTree.parse(Data(xml.utf8))?.first("DBInstance"))
        let instance = try DBInstance(tree)
        #expect(instance.readReplicaIdentifiers == ["db1-replica", "arn:aws:rds:eu-west-1:123456789012:db:db1-eu"])
        #expect(instance.readReplicaSourceIdentifier == "db0")
        let plain = try DBInstance(try #require(XMLTree.parse(Data("<DBInstance><DBInstanceIdentifier>x</DBInstanceIdentifier></DBInstance>".utf8))))
        #expect(plain.readReplicaIdentifiers.isEmpty && plain.readReplicaSourceIdentifier == nil)

        var request = RDSClient.ReplicaRequest(identifier: "db1-replica", sourceIdentifier: "db1")
        request.vpcSecurityGroupIds = ["sg-1", "sg-2"]
        let parameters = Dictionary(uniqueKeysWithValues: request.parameters)
        #expect(parameters["PubliclyAccessible"] == "false")
        #expect(parameters["DeletionProtection"] == "true")
        #expect(parameters["EnableIAMDatabaseAuthentication"] == "true")
        #expect(parameters["CopyTagsToSnapshot"] == "true")
        #expect(parameters["EnablePerformanceInsights"] == "true" && parameters["PerformanceInsightsRetentionPeriod"] == "7")
        #expect(parameters["VpcSecurityGroupIds.VpcSecurityGroupId.1"] == "sg-1" && parameters["VpcSecurityGroupIds.VpcSecurityGroupId.2"] == "sg-2")
        #expect(parameters["DBInstanceClass"] == nil && parameters["AvailabilityZone"] == nil, "RDS's defaults when not given")
        #expect(parameters["BackupRetentionPeriod"] == nil && parameters["StorageEncrypted"] == nil, "not parameters of a replica")
    }
}
