import CruddurAWS
import CruddurDatabase
import Foundation
import Logging

/// `--prod`'s master password from the Secrets Manager secret RDS manages (and rotates every 7 days): the secret
/// `--master-secret` names, which replaces `PGPASSWORD` and `~/.pgpass`; or, when no password is given at all, the
/// secret of the instance whose RDS endpoint `PROD_CONNECTION_URL` names (found through `DescribeDBInstances`, in the
/// endpoint's region).
enum MasterSecret {
    static func apply(
        to target: DatabaseTarget, secret: String?, logger: Logger,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) async throws -> DatabaseTarget {
        guard case .url(var settings, let source, isProduction: true) = target, settings.passwordSource == nil,
            !ConnectionSettings.urlCarriesPassword(environment["PROD_CONNECTION_URL"] ?? "")
        else { return target }
        guard secret != nil || settings.password == nil else { return target }
        // Without --master-secret, only an RDS endpoint's instance is looked for: another server with no password
        // (trust authentication, say) is connected to as before, without any AWS call.
        var endpointHost: String?
        if case .tcp(let host, _) = settings.endpoint, RDSAuthToken.region(ofEndpoint: host) != nil { endpointHost = host }
        guard secret != nil || endpointHost != nil else { return target }

        let configuration: AWSConfiguration
        do {
            configuration = try AWSConfiguration.resolve(region: endpointHost.flatMap(RDSAuthToken.region(ofEndpoint:)), environment: environment)
        } catch {
            throw CommandFailure(
                "\(source) has no password (none in PGPASSWORD or ~/.pgpass), and the master password cannot be read from Secrets Manager: \(error)"
            )
        }
        let client = AWSClient(configuration: configuration, logger: logger)
        let secretId: String
        if let secret {
            secretId = secret
        } else {
            let host = endpointHost ?? ""
            guard let instance = try await RDSClient(client).instance(withEndpoint: host) else {
                throw CommandFailure(
                    "\(source) has no password, and no RDS instance in \(configuration.region) has the endpoint \(host): give --master-secret, PGPASSWORD or ~/.pgpass"
                )
            }
            guard let arn = instance.masterUserSecretArn else {
                throw CommandFailure(
                    "\(source) has no password, and \(instance.identifier)'s master password is not managed by Secrets Manager: give PGPASSWORD or ~/.pgpass"
                )
            }
            secretId = arn
        }
        let credentials = try await SecretsManagerClient(client).databaseCredentials(secretId: secretId)
        if let owner = credentials.username, owner != settings.username {
            throw CommandFailure("the master secret is the password of \(owner), but \(source) names the user \(settings.username)")
        }
        settings.password = credentials.password
        return .url(settings, source: source, isProduction: true)
    }

    /// A secret id `--master-secret` accepts: an ARN or a name, 1–2048 characters without control characters.
    static func isValidIdentifier(_ identifier: String) -> Bool {
        !identifier.isEmpty && identifier.count <= 2048
            && !identifier.unicodeScalars.contains { CharacterSet.controlCharacters.contains($0) || $0 == " " }
    }
}
