/// The RDS calls Cruddur makes (Query API, version 2014-10-31).
public struct RDSClient: Sendable {
    public static let apiVersion = "2014-10-31"
    let client: AWSClient

    public init(_ client: AWSClient) {
        self.client = client
    }

    /// The settings of a new PostgreSQL instance; the defaults are the secure ones.
    public struct CreateRequest: Sendable {
        public var identifier: String
        public var instanceClass = "db.t3.micro"
        public var engineVersion = "16"
        public var masterUsername = "cruddurroot"
        /// nil: RDS generates the password and keeps it in Secrets Manager (`ManageMasterUserPassword`).
        public var masterPassword: String?
        public var allocatedStorageGB = 20
        public var storageType = "gp3"
        public var availabilityZone: String?
        public var port = 5432
        public var databaseName = "cruddur"
        public var publiclyAccessible = false
        public var storageEncrypted = true
        public var backupRetentionDays = 7
        public var deletionProtection = true
        public var iamDatabaseAuthentication = true
        public var performanceInsights = true
        public var performanceInsightsRetentionDays = 7
        public var multiAZ = false
        public var parameterGroupName: String?
        public var vpcSecurityGroupIds: [String] = []
        public var subnetGroupName: String?

        public init(identifier: String) {
            self.identifier = identifier
        }

        var parameters: [(String, String)] {
            var list: [(String, String)] = [
                ("DBInstanceIdentifier", identifier),
                ("DBInstanceClass", instanceClass),
                ("Engine", "postgres"),
                ("EngineVersion", engineVersion),
                ("MasterUsername", masterUsername),
                ("AllocatedStorage", String(allocatedStorageGB)),
                ("StorageType", storageType),
                ("Port", String(port)),
                ("DBName", databaseName),
                ("PubliclyAccessible", String(publiclyAccessible)),
                ("StorageEncrypted", String(storageEncrypted)),
                ("BackupRetentionPeriod", String(backupRetentionDays)),
                ("DeletionProtection", String(deletionProtection)),
                ("EnableIAMDatabaseAuthentication", String(iamDatabaseAuthentication)),
                ("EnablePerformanceInsights", String(performanceInsights)),
                ("MultiAZ", String(multiAZ)),
                ("CopyTagsToSnapshot", "true"),
            ]
            if let masterPassword {
                list.append(("MasterUserPassword", masterPassword))
            } else {
                list.append(("ManageMasterUserPassword", "true"))
            }
            if performanceInsights {
                list.append(("PerformanceInsightsRetentionPeriod", String(performanceInsightsRetentionDays)))
            }
            if let availabilityZone { list.append(("AvailabilityZone", availabilityZone)) }
            if let parameterGroupName { list.append(("DBParameterGroupName", parameterGroupName)) }
            if let subnetGroupName { list.append(("DBSubnetGroupName", subnetGroupName)) }
            for (index, group) in vpcSecurityGroupIds.enumerated() {
                list.append(("VpcSecurityGroupIds.VpcSecurityGroupId.\(index + 1)", group))
            }
            return list
        }
    }

    public func createDBInstance(_ request: CreateRequest) async throws -> DBInstance {
        try await instanceCall("CreateDBInstance", request.parameters)
    }

    /// A read replica of an existing instance, with the secure settings `CreateRequest` defaults to where a replica takes them.
    ///
    /// Storage encryption, engine version, storage, port and parameter groups are inherited from the source; backups
    /// are off on a new replica (RDS's rule).
    public struct ReplicaRequest: Sendable {
        public var identifier: String
        public var sourceIdentifier: String
        /// nil: RDS uses the source's class.
        public var instanceClass: String?
        /// nil: RDS chooses.
        public var availabilityZone: String?
        public var publiclyAccessible = false
        public var deletionProtection = true
        public var iamDatabaseAuthentication = true
        public var performanceInsights = true
        public var performanceInsightsRetentionDays = 7
        /// Empty: the VPC's default group, which is not the source's (RDS does not inherit this one), so give the source's.
        public var vpcSecurityGroupIds: [String] = []

        public init(identifier: String, sourceIdentifier: String) {
            self.identifier = identifier
            self.sourceIdentifier = sourceIdentifier
        }

        var parameters: [(String, String)] {
            var list: [(String, String)] = [
                ("DBInstanceIdentifier", identifier),
                ("SourceDBInstanceIdentifier", sourceIdentifier),
                ("PubliclyAccessible", String(publiclyAccessible)),
                ("DeletionProtection", String(deletionProtection)),
                ("EnableIAMDatabaseAuthentication", String(iamDatabaseAuthentication)),
                ("EnablePerformanceInsights", String(performanceInsights)),
                ("CopyTagsToSnapshot", "true"),
            ]
            if performanceInsights {
                list.append(("PerformanceInsightsRetentionPeriod", String(performanceInsightsRetentionDays)))
            }
            if let instanceClass { list.append(("DBInstanceClass", instanceClass)) }
            if let availabilityZone { list.append(("AvailabilityZone", availabilityZone)) }
            for (index, group) in vpcSecurityGroupIds.enumerated() {
                list.append(("VpcSecurityGroupIds.VpcSecurityGroupId.\(index + 1)", group))
            }
            return list
        }
    }

    public func createReadReplica(_ request: ReplicaRequest) async throws -> DBInstance {
        try await instanceCall("CreateDBInstanceReadReplica", request.parameters)
    }

    /// The instance, or nil when RDS says there is none by that identifier.
    public func findDBInstance(_ identifier: String) async throws -> DBInstance? {
        do {
            return try await describeDBInstance(identifier)
        } catch let error as AWSError where error.code == "DBInstanceNotFound" {
            return nil
        }
    }

    public func describeDBInstance(_ identifier: String) async throws -> DBInstance {
        let document = try await client.query(
            service: "rds", version: Self.apiVersion, action: "DescribeDBInstances", parameters: [("DBInstanceIdentifier", identifier)],
            readOnly: true
        )
        guard let instance = document.first("DBInstances")?.children.first else {
            throw AWSError.service(
                .init(
                    service: "rds", action: "DescribeDBInstances", code: "DBInstanceNotFound",
                    message: "DBInstance \(identifier) not found.", requestId: nil, httpStatus: 404
                ))
        }
        return try DBInstance(instance)
    }

    public func stopDBInstance(_ identifier: String) async throws -> DBInstance {
        try await instanceCall("StopDBInstance", [("DBInstanceIdentifier", identifier)])
    }

    public func startDBInstance(_ identifier: String) async throws -> DBInstance {
        try await instanceCall("StartDBInstance", [("DBInstanceIdentifier", identifier)])
    }

    /// Turns deletion protection off, at once.
    public func disableDeletionProtection(_ identifier: String) async throws -> DBInstance {
        try await instanceCall(
            "ModifyDBInstance",
            [
                ("DBInstanceIdentifier", identifier), ("DeletionProtection", "false"), ("ApplyImmediately", "true"),
            ])
    }

    /// Deletes the instance, after a final snapshot named `finalSnapshotIdentifier` unless that is nil.
    public func deleteDBInstance(_ identifier: String, finalSnapshotIdentifier: String?) async throws -> DBInstance {
        var parameters = [("DBInstanceIdentifier", identifier)]
        if let finalSnapshotIdentifier {
            parameters += [("SkipFinalSnapshot", "false"), ("FinalDBSnapshotIdentifier", finalSnapshotIdentifier)]
        } else {
            parameters.append(("SkipFinalSnapshot", "true"))
        }
        parameters.append(("DeleteAutomatedBackups", "false"))
        return try await instanceCall("DeleteDBInstance", parameters)
    }

    private func instanceCall(_ action: String, _ parameters: [(String, String)]) async throws -> DBInstance {
        let document = try await client.query(service: "rds", version: Self.apiVersion, action: action, parameters: parameters)
        guard let instance = document.first("DBInstance") else {
            throw AWSError.unexpectedResponse(service: "rds", action: action, reason: "no DBInstance in the answer")
        }
        return try DBInstance(instance)
    }

    /// A valid RDS instance identifier: 1–63 letters, digits or hyphens, starting with a letter, no `--`, no trailing `-`.
    public static func isValidIdentifier(_ identifier: String) -> Bool {
        guard (1...63).contains(identifier.count), let first = identifier.first, first.isASCII, first.isLetter,
            !identifier.hasSuffix("-"), !identifier.contains("--")
        else { return false }
        return identifier.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
    }
}
