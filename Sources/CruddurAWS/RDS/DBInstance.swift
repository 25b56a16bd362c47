import Foundation

/// What `DescribeDBInstances` says about one instance: the fields Cruddur shows and checks.
public struct DBInstance: Sendable, Codable, Equatable {
    public var identifier: String
    public var status: String
    public var engine: String
    public var engineVersion: String?
    public var instanceClass: String?
    public var endpointAddress: String?
    public var port: Int?
    public var masterUsername: String?
    public var databaseName: String?
    public var publiclyAccessible: Bool
    public var storageEncrypted: Bool
    public var deletionProtection: Bool
    public var backupRetentionDays: Int?
    public var iamDatabaseAuthentication: Bool
    public var performanceInsights: Bool?
    public var storageType: String?
    public var allocatedStorageGB: Int?
    public var availabilityZone: String?
    public var multiAZ: Bool
    /// The Secrets Manager secret holding the master password, when RDS manages it.
    public var masterUserSecretArn: String?
    public var vpcSecurityGroupIds: [String]
    public var parameterGroups: [String]
    /// The instance's read replicas: identifiers in its region, ARNs in others.
    public var readReplicaIdentifiers: [String]
    /// The instance this one replicates, when it is a read replica.
    public var readReplicaSourceIdentifier: String?

    init(_ xml: XMLTree) throws {
        guard let identifier = xml.string("DBInstanceIdentifier") else {
            throw AWSError.unexpectedResponse(service: "rds", action: "DBInstance", reason: "an instance without DBInstanceIdentifier")
        }
        self.identifier = identifier
        status = xml.string("DBInstanceStatus") ?? "unknown"
        engine = xml.string("Engine") ?? "unknown"
        engineVersion = xml.string("EngineVersion")
        instanceClass = xml.string("DBInstanceClass")
        endpointAddress = xml.child("Endpoint")?.string("Address")
        port = xml.child("Endpoint")?.int("Port") ?? xml.int("DbInstancePort")
        masterUsername = xml.string("MasterUsername")
        databaseName = xml.string("DBName")
        publiclyAccessible = xml.bool("PubliclyAccessible") ?? false
        storageEncrypted = xml.bool("StorageEncrypted") ?? false
        deletionProtection = xml.bool("DeletionProtection") ?? false
        backupRetentionDays = xml.int("BackupRetentionPeriod")
        iamDatabaseAuthentication = xml.bool("IAMDatabaseAuthenticationEnabled") ?? false
        performanceInsights = xml.bool("PerformanceInsightsEnabled")
        storageType = xml.string("StorageType")
        allocatedStorageGB = xml.int("AllocatedStorage")
        availabilityZone = xml.string("AvailabilityZone")
        multiAZ = xml.bool("MultiAZ") ?? false
        masterUserSecretArn = xml.child("MasterUserSecret")?.string("SecretArn")
        vpcSecurityGroupIds = xml.child("VpcSecurityGroups")?.children.compactMap { $0.string("VpcSecurityGroupId") } ?? []
        parameterGroups = xml.child("DBParameterGroups")?.children.compactMap { $0.string("DBParameterGroupName") } ?? []
        readReplicaIdentifiers =
            xml.child("ReadReplicaDBInstanceIdentifiers")?.children(named: "ReadReplicaDBInstanceIdentifier")
            .map { $0.text.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty } ?? []
        readReplicaSourceIdentifier = xml.string("ReadReplicaSourceDBInstanceIdentifier")
    }
}
