import ArgumentParser
import CruddurAWS
import Foundation

/// `cruddur rds url`: the `PROD_CONNECTION_URL` for the instance, TLS verified against the RDS CA bundle.
struct RDSURL: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "url",
        abstract: "Print the PROD_CONNECTION_URL for the instance, or with --reader the READ_CONNECTION_URL for its replica (sslmode=verify-full).",
        discussion: """
            The password is a placeholder unless --with-password reads it from the Secrets Manager secret RDS manages \
            (a replica has the source's password). Save AWS's CA bundle (\(RDSURL.caBundleSource)) where --ca-bundle says.
            """
    )

    static let caBundleSource = "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"
    static let passwordPlaceholder = "<PASSWORD>"

    @OptionGroup var aws: AWSOptions
    @OptionGroup var instance: InstanceOptions

    @Flag(help: "Put the real password in the URL, read from the instance's Secrets Manager secret.")
    var withPassword = false

    @Flag(help: "The URL of the instance's read replica (for READ_CONNECTION_URL) instead of the instance's own.")
    var reader = false

    @Option(help: ArgumentHelp("Where the RDS CA bundle is (or is to be) saved (default: ~/.postgresql/rds-global-bundle.pem).", valueName: "path"))
    var caBundle: String?

    func validate() throws {
        if let caBundle, caBundle.isEmpty || caBundle.contains("\0") {
            throw ValidationError("--ca-bundle must be a file path")
        }
    }

    func run() async throws {
        try await reportingFailures {
            let client = try aws.client(logger: makeCommandLogger())
            let rds = RDSClient(client)
            let current = try await rds.describeDBInstance(instance.identifier)
            let target = reader ? try await Self.replica(of: current, rds) : current
            guard let host = target.endpointAddress, let port = target.port else {
                throw CommandFailure(
                    "\(target.identifier) has no endpoint yet (it is \(target.status)); wait with `cruddur rds status --identifier \(target.identifier) --wait available`"
                )
            }
            // User, database and password are the source's, also for a replica: it is a copy of the source.
            let user = current.masterUsername ?? "cruddurroot"
            let database = current.databaseName ?? "postgres"
            var password = Self.passwordPlaceholder
            if withPassword {
                guard let secret = current.masterUserSecretArn else {
                    throw CommandFailure(
                        "\(current.identifier)'s master password is not managed by Secrets Manager, so --with-password cannot read it")
                }
                password = try await SecretsManagerClient(client).databaseCredentials(secretId: secret).password
            }
            let rootCertificate = bundlePath()
            let url =
                "postgresql://\(Self.encode(user)):\(withPassword ? Self.encode(password) : password)@\(host):\(port)/\(Self.encode(database))"
                + "?sslmode=verify-full&sslrootcert=\(Self.encode(rootCertificate, keeping: "/"))"
            if aws.json {
                try printJSON(
                    URLResult(
                        url: url, instance: target.identifier, host: host, port: port, database: database, user: user, passwordIncluded: withPassword,
                        sslrootcert: rootCertificate, caBundleSource: Self.caBundleSource
                    ))
            } else {
                print(url)
            }
            if !FileManager.default.fileExists(atPath: rootCertificate) {
                writeToStandardError("cruddur: save the RDS CA bundle first: curl -fsSL --create-dirs -o \(rootCertificate) \(Self.caBundleSource)\n")
            }
        }
    }

    /// The instance's read replica in this region, described; the first when it has several.
    static func replica(of source: DBInstance, _ rds: RDSClient) async throws -> DBInstance {
        guard !source.readReplicaIdentifiers.isEmpty else {
            throw CommandFailure(
                "\(source.identifier) has no read replica; create one with `cruddur rds create-replica --identifier \(source.identifier)`")
        }
        guard let identifier = source.readReplicaIdentifiers.first(where: { !$0.hasPrefix("arn:") }) else {
            throw CommandFailure(
                "\(source.identifier)'s read replicas are all in other regions (\(source.readReplicaIdentifiers.joined(separator: ", "))); use --region and the replica's --identifier"
            )
        }
        return try await rds.describeDBInstance(identifier)
    }

    struct URLResult: Encodable {
        let url: String
        /// The instance whose endpoint the URL names: the replica's with --reader.
        let instance: String
        let host: String
        let port: Int
        let database: String
        let user: String
        let passwordIncluded: Bool
        let sslrootcert: String
        let caBundleSource: String
    }

    private func bundlePath() -> String {
        if let caBundle {
            return caBundle.hasPrefix("/") ? caBundle : FileManager.default.currentDirectoryPath + "/" + caBundle
        }
        let home = ProcessInfo.processInfo.environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return home + "/.postgresql/rds-global-bundle.pem"
    }

    /// Percent-encodes everything but RFC 3986's unreserved characters (and `keeping`).
    static func encode(_ text: String, keeping: String = "") -> String {
        var allowed = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        allowed.insert(charactersIn: keeping)
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}
