import CruddurDomain
import Foundation

/// Where AWS calls go and as whom: credentials, region and an optional endpoint override,
/// resolved the way the AWS CLI and SDKs resolve them.
public struct AWSConfiguration: Sendable {
    /// Fixed credentials; nil for a client that only makes unsigned calls (``unsigned(region:endpointURL:)``) or one
    /// whose credentials come from the container endpoint (`credentialsProvider`).
    public let credentials: AWSCredentials?
    /// The ECS task role's credentials, fetched and refreshed as they expire.
    public let credentialsProvider: ContainerCredentialsProvider?
    public let region: String
    /// `--endpoint-url` or `AWS_ENDPOINT_URL`: every service at this address (moto, LocalStack), else AWS itself.
    public let endpointOverride: URL?

    public init(
        credentials: AWSCredentials?, region: String, endpointOverride: URL? = nil, credentialsProvider: ContainerCredentialsProvider? = nil
    ) {
        self.credentials = credentials
        self.credentialsProvider = credentialsProvider
        self.region = region
        self.endpointOverride = endpointOverride
    }

    /// The credentials to sign with now: the fixed ones, else the container endpoint's (fetched when they are near
    /// expiry); nil when there are none.
    public func currentCredentials() async throws -> AWSCredentials? {
        if let credentials { return credentials }
        return try await credentialsProvider?.credentials()
    }

    /// ``currentCredentials()``, or an error naming `purpose` when there are none.
    public func requireCredentials(for purpose: String) async throws -> AWSCredentials {
        guard let credentials = try await currentCredentials() else {
            throw AWSError.configuration("\(purpose) needs AWS credentials and none are configured")
        }
        return credentials
    }

    /// A configuration without credentials, for calls a user's own token authorises; `endpointURL` as `AWS_ENDPOINT_URL`
    /// (https, or http to a loopback host).
    public static func unsigned(region: String, endpointURL: String?, variable: String) throws -> AWSConfiguration {
        AWSConfiguration(credentials: nil, region: region, endpointOverride: try endpointURL.map { try endpoint($0, name: variable) })
    }

    /// Resolves the configuration.
    ///
    /// - Credentials: an explicit `profile` wins; else `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`);
    ///   else the profile `AWS_PROFILE` (or `default`) in `AWS_SHARED_CREDENTIALS_FILE` (`~/.aws/credentials`), then in
    ///   `AWS_CONFIG_FILE` (`~/.aws/config`); else the container credentials endpoint (ECS task roles:
    ///   `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` or `AWS_CONTAINER_CREDENTIALS_FULL_URI`).
    /// - Region: `region`, else `AWS_REGION`, `AWS_DEFAULT_REGION`, then the profile's `region` in the config file.
    /// - Endpoint: `endpointURL`, else `AWS_ENDPOINT_URL`.
    public static func resolve(
        region explicitRegion: String? = nil,
        profile explicitProfile: String? = nil,
        endpointURL explicitEndpoint: String? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> AWSConfiguration {
        func variable(_ name: String) -> String? {
            environment[name].flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : $0 }
        }
        let home = variable("HOME") ?? NSHomeDirectory()
        let credentialsPath = variable("AWS_SHARED_CREDENTIALS_FILE").map { expandTilde($0, home: home) } ?? home + "/.aws/credentials"
        let configPath = variable("AWS_CONFIG_FILE").map { expandTilde($0, home: home) } ?? home + "/.aws/config"
        let profileName = explicitProfile ?? variable("AWS_PROFILE") ?? variable("AWS_DEFAULT_PROFILE") ?? "default"
        guard isValidProfileName(profileName) else {
            throw AWSError.configuration("the profile name '\(profileName)' is not valid (letters, digits, '-', '_', '.', '@', '+' only)")
        }

        var configFile: ProfileFile?
        func config() throws -> ProfileFile {
            if let configFile { return configFile }
            let loaded = try ProfileFile.load(configPath)
            configFile = loaded
            return loaded
        }

        var credentials: AWSCredentials?
        var provider: ContainerCredentialsProvider?
        let accessKey = variable("AWS_ACCESS_KEY_ID")
        let secretKey = variable("AWS_SECRET_ACCESS_KEY")
        if explicitProfile == nil, accessKey != nil || secretKey != nil {
            guard let accessKey, let secretKey else {
                throw AWSError.configuration(
                    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together (only \(accessKey == nil ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID") is set)"
                )
            }
            credentials = AWSCredentials(
                accessKeyId: accessKey, secretAccessKey: secretKey, sessionToken: variable("AWS_SESSION_TOKEN"), source: "the environment"
            )
        } else {
            let explicitlyNamed = explicitProfile != nil || variable("AWS_PROFILE") != nil || variable("AWS_DEFAULT_PROFILE") != nil
            credentials = try profileCredentials(
                profileName, credentials: try ProfileFile.load(credentialsPath), config: try config(), explicitlyNamed: explicitlyNamed
            )
            if credentials == nil, !explicitlyNamed {
                provider = try ContainerCredentialsProvider.fromEnvironment(environment)
            }
            if credentials == nil, provider == nil {
                throw AWSError.configuration(
                    "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or keys for the profile '\(profileName)' in \(credentialsPath)"
                )
            }
        }

        let region: String
        if let explicitRegion {
            region = explicitRegion
        } else if let fromEnvironment = variable("AWS_REGION") ?? variable("AWS_DEFAULT_REGION") {
            region = fromEnvironment
        } else if let fromProfile = try config().configSection(profileName)?["region"], !fromProfile.isEmpty {
            region = fromProfile
        } else {
            throw AWSError.configuration(
                "no AWS region: give --region, or set AWS_REGION or AWS_DEFAULT_REGION, or region in the profile '\(profileName)' of \(configPath)")
        }
        guard isValidRegion(region) else {
            throw AWSError.configuration("'\(region)' is not an AWS region name (like us-east-1)")
        }

        let endpoint = try (explicitEndpoint ?? variable("AWS_ENDPOINT_URL")).map {
            try Self.endpoint($0, name: explicitEndpoint == nil ? "AWS_ENDPOINT_URL" : "--endpoint-url")
        }
        return AWSConfiguration(credentials: credentials, region: region, endpointOverride: endpoint, credentialsProvider: provider)
    }

    /// An endpoint override: an http(s) URL with a host and no credentials, https unless the host is loopback.
    static func endpoint(_ text: String, name: String) throws -> URL {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = url.host, !host.isEmpty, url.user == nil, url.password == nil
        else {
            throw AWSError.configuration("the endpoint URL '\(text)' must be an http(s) URL with a host and no credentials")
        }
        guard LoopbackHost.allowsPlainHTTP(scheme: scheme, host: host) else {
            throw AWSError.configuration(
                "\(name) must be https:// (plain http, which would carry signed requests and secrets in clear text, is accepted "
                    + "only for a loopback host such as a local moto_server)")
        }
        return url
    }

    /// The profile's keys; nil when neither file has any for it (and it was not asked for by name).
    private static func profileCredentials(
        _ name: String, credentials: ProfileFile, config: ProfileFile, explicitlyNamed: Bool
    ) throws -> AWSCredentials? {
        let candidates: [(settings: [String: String]?, path: String)] = [
            (credentials.credentialsSection(name), credentials.path),
            (config.configSection(name), config.path),
        ]
        for (settings, path) in candidates {
            guard let settings else { continue }
            if let accessKey = settings["aws_access_key_id"], let secretKey = settings["aws_secret_access_key"],
                !accessKey.isEmpty, !secretKey.isEmpty
            {
                let token = settings["aws_session_token"].flatMap { $0.isEmpty ? nil : $0 }
                return AWSCredentials(accessKeyId: accessKey, secretAccessKey: secretKey, sessionToken: token, source: "profile \(name) in \(path)")
            }
        }
        for (settings, path) in candidates {
            if let settings,
                let kind = ["role_arn", "sso_session", "sso_start_url", "credential_process", "web_identity_token_file"].first(where: {
                    settings[$0] != nil
                })
            {
                throw AWSError.configuration(
                    "the profile '\(name)' in \(path) uses \(kind), which cruddur does not support; export keys instead (e.g. eval \"$(aws configure export-credentials --profile \(name) --format env)\")"
                )
            }
        }
        if explicitlyNamed, candidates.allSatisfy({ $0.settings == nil }) {
            throw AWSError.configuration("the AWS profile '\(name)' is in neither \(credentials.path) nor \(config.path)")
        }
        return nil
    }

    /// The base URL for a service: the override, else `https://<service>.<region>.amazonaws.com`.
    public func endpoint(for service: String) -> URL {
        endpointOverride ?? URL(string: "https://\(service).\(region).amazonaws.com")!
    }

    static func isValidRegion(_ region: String) -> Bool {
        !region.isEmpty && region.count <= 32 && region.first!.isLetter
            && region.allSatisfy { ($0.isASCII && ($0.isLowercase || $0.isNumber)) || $0 == "-" }
            && region.contains("-")
    }

    static func isValidProfileName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 128 && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.@+".contains($0)) }
    }

    private static func expandTilde(_ path: String, home: String) -> String {
        path == "~" ? home : path.hasPrefix("~/") ? home + path.dropFirst() : path
    }
}
