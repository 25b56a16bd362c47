import CruddurAWS
import CruddurDatabase
import CruddurDomain
import Foundation
import Logging

/// How `serve` authenticates writes: Cognito settings from the environment, or local development mode.
public enum WriteAuthentication {
    /// The Cognito settings from `AWS_COGNITO_USER_POOL_ID`, `AWS_COGNITO_USER_POOL_CLIENT_ID`, the region
    /// (`AWS_DEFAULT_REGION`, `AWS_REGION`, else the pool id's prefix) and `COGNITO_JWKS_URL` (optional override);
    /// nil when neither pool nor client is set. Empty values count as unset.
    public static func cognitoSettings(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> CognitoSettings? {
        func value(_ name: String) -> String? {
            environment[name].flatMap { $0.isEmpty ? nil : $0 }
        }
        let pool = value("AWS_COGNITO_USER_POOL_ID")
        let client = value("AWS_COGNITO_USER_POOL_CLIENT_ID")
        guard pool != nil || client != nil else { return nil }
        guard let pool else {
            throw ConfigurationError(
                "AWS_COGNITO_USER_POOL_CLIENT_ID is set but AWS_COGNITO_USER_POOL_ID is not; set both, or neither for local development")
        }
        guard let poolRegion = CognitoUserPoolID(pool)?.region else {
            throw ConfigurationError("AWS_COGNITO_USER_POOL_ID '\(printable(pool))' is not a user pool id like us-east-1_AbCdEf123")
        }
        guard let client else {
            throw ConfigurationError("AWS_COGNITO_USER_POOL_ID is set but AWS_COGNITO_USER_POOL_CLIENT_ID is not; set the app client id too")
        }
        guard CognitoSettings.isClientID(client) else {
            throw ConfigurationError("AWS_COGNITO_USER_POOL_CLIENT_ID is not an app client id (letters and digits)")
        }
        let regionVariable = value("AWS_DEFAULT_REGION") != nil ? "AWS_DEFAULT_REGION" : "AWS_REGION"
        let region = value(regionVariable) ?? poolRegion
        guard CognitoSettings.isRegion(region) else {
            throw ConfigurationError("\(regionVariable) '\(printable(region))' is not an AWS region like us-east-1")
        }
        guard region == poolRegion else {
            throw ConfigurationError(
                "AWS_COGNITO_USER_POOL_ID is a pool in \(poolRegion) but \(regionVariable) is \(region); tokens would never match")
        }
        var jwksURL: String?
        if let override = value("COGNITO_JWKS_URL") {
            guard let url = URL(string: override), let scheme = url.scheme, ["http", "https"].contains(scheme), let host = url.host else {
                throw ConfigurationError("COGNITO_JWKS_URL '\(printable(override))' is not an http(s) URL")
            }
            guard LoopbackHost.allowsPlainHTTP(scheme: scheme, host: host) else {
                throw ConfigurationError("COGNITO_JWKS_URL must be https:// (plain http is accepted only for a loopback host)")
            }
            jwksURL = override
        }
        var settings = CognitoSettings(region: region, userPoolID: pool, clientID: client, jwksURL: jwksURL)
        for variable in ["AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER", "AWS_ENDPOINT_URL"] {
            guard let endpoint = value(variable) else { continue }
            do {
                _ = try AWSConfiguration.unsigned(region: region, endpointURL: endpoint, variable: variable)
            } catch {
                throw ConfigurationError("\(error)")
            }
            settings.identityProviderEndpoint = endpoint
            break
        }
        return settings
    }

    /// Refuses local development mode on a non-loopback `host` unless `allowUnauthenticatedWrites`.
    public static func refuseUnsafeBinding(_ configuration: APIConfiguration, allowUnauthenticatedWrites: Bool) throws {
        guard configuration.cognito == nil, !LoopbackHost.contains(configuration.host), !allowUnauthenticatedWrites else { return }
        throw ConfigurationError(
            "HOST \(configuration.host) is reachable from other machines and no Cognito user pool is configured, so anyone could post as anyone; "
                + "set AWS_COGNITO_USER_POOL_ID and AWS_COGNITO_USER_POOL_CLIENT_ID, bind to 127.0.0.1, or pass --allow-unauthenticated-writes"
        )
    }

    /// Once per start: the warning that writes are unauthenticated (local development mode), or which user pool's
    /// tokens writes need.
    public static func logMode(_ configuration: APIConfiguration, logger: Logger) {
        if let cognito = configuration.cognito {
            logger.info(
                "Writes need a Cognito token",
                metadata: [
                    "user_pool": "\(cognito.userPoolID)", "client_id": "\(cognito.clientID)", "jwks_url": "\(cognito.jwksURL)",
                ])
        } else {
            logger.warning(
                "Writes are unauthenticated: local development mode trusts the user_handle in each post",
                metadata: [
                    "host": "\(configuration.host)",
                    "hint": "set AWS_COGNITO_USER_POOL_ID and AWS_COGNITO_USER_POOL_CLIENT_ID to require Cognito tokens",
                ])
        }
    }

    /// A configuration value fit for an error line: printable ASCII, at most 64 characters.
    static func printable(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.filter { (0x20...0x7E).contains($0.value) }.prefix(64)))
    }
}
