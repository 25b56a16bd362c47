import ArgumentParser
import CruddurAWS
import Foundation

/// `cruddur rds url`: the `PROD_CONNECTION_URL` for the instance, TLS verified against the RDS CA bundle.
struct RDSURL: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "url",
        abstract: "Print the PROD_CONNECTION_URL for the instance (sslmode=verify-full).",
        discussion: """
            The password is a placeholder unless --with-password reads it from the Secrets Manager secret RDS manages. \
            Save AWS's CA bundle (\(RDSURL.caBundleSource)) where --ca-bundle says.
            """
    )

    static let caBundleSource = "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"
    static let passwordPlaceholder = "<PASSWORD>"

    @OptionGroup var aws: AWSOptions
    @OptionGroup var instance: InstanceOptions

    @Flag(help: "Put the real password in the URL, read from the instance's Secrets Manager secret.")
    var withPassword = false

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
            let current = try await RDSClient(client).describeDBInstance(instance.identifier)
            guard let host = current.endpointAddress, let port = current.port else {
                throw CommandFailure(
                    "\(current.identifier) has no endpoint yet (it is \(current.status)); wait with `cruddur rds status --identifier \(current.identifier) --wait available`"
                )
            }
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
                        url: url, host: host, port: port, database: database, user: user, passwordIncluded: withPassword,
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

    struct URLResult: Encodable {
        let url: String
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
