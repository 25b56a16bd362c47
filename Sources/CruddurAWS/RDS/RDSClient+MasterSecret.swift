extension RDSClient {
    /// Every instance of the account and region (`DescribeDBInstances`, all pages).
    public func allDBInstances() async throws -> [DBInstance] {
        var instances: [DBInstance] = []
        var marker: String?
        repeat {
            var parameters = [("MaxRecords", "100")]
            if let marker { parameters.append(("Marker", marker)) }
            let document = try await client.query(
                service: "rds", version: Self.apiVersion, action: "DescribeDBInstances", parameters: parameters, readOnly: true
            )
            instances += try (document.first("DBInstances")?.children ?? []).map { try DBInstance($0) }
            marker = document.first("Marker").map(\.text).flatMap { $0.isEmpty ? nil : $0 }
        } while marker != nil && instances.count < 10_000
        return instances
    }

    /// The instance whose endpoint is `host` (compared without case), nil when none is.
    public func instance(withEndpoint host: String) async throws -> DBInstance? {
        try await allDBInstances().first { $0.endpointAddress?.lowercased() == host.lowercased() }
    }
}
