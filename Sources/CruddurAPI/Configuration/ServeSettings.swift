import CruddurDatabase
import CruddurDomain
import CruddurLogging
import Foundation
import Logging

/// The API's settings from the environment, validated.
public enum ServeSettings {
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> APIConfiguration {
        var configuration = APIConfiguration()
        switch environment["FEED_CACHE"] {
        case nil, "", "on": configuration.feedCache = true
        case "off": configuration.feedCache = false
        case let value?: throw ConfigurationError("FEED_CACHE '\(value)' must be on or off")
        }
        switch environment["ACCESS_LOG"] {
        case nil, "", "on": configuration.accessLog = true
        case "off": configuration.accessLog = false
        case let value?: throw ConfigurationError("ACCESS_LOG '\(WriteAuthentication.printable(value))' must be on or off")
        }
        do {
            configuration.logFormat = try LogFormat(environment: environment)
        } catch {
            throw ConfigurationError(error.description)
        }
        if let level = environment["LOG_LEVEL"], !level.isEmpty, Logger.Level(rawValue: level) == nil {
            throw ConfigurationError(
                "LOG_LEVEL '\(WriteAuthentication.printable(level))' must be one of trace, debug, info, notice, warning, error, critical")
        }
        if let maxAge = environment["FEED_CACHE_MAX_AGE_MS"], !maxAge.isEmpty {
            guard let milliseconds = Int(maxAge), (1...1000).contains(milliseconds) else {
                throw ConfigurationError(
                    "FEED_CACHE_MAX_AGE_MS '\(WriteAuthentication.printable(maxAge))' is not a whole number of milliseconds from 1 to 1000")
            }
            configuration.feedCacheMaxAge = .milliseconds(milliseconds)
        }
        if let lag = environment["READ_REPLICA_MAX_LAG"], !lag.isEmpty {
            guard let milliseconds = Int(lag.hasSuffix("ms") ? String(lag.dropLast(2)) : lag), (1...1000).contains(milliseconds) else {
                throw ConfigurationError(
                    "READ_REPLICA_MAX_LAG '\(WriteAuthentication.printable(lag))' is not a whole number of milliseconds from 1 to 1000")
            }
            configuration.readReplicaMaxLag = .milliseconds(milliseconds)
        }
        if let lag = configuration.readReplicaMaxLag {
            let cache = configuration.feedCache ? configuration.feedCacheMaxAge : .zero
            guard lag + cache <= APIConfiguration.stalenessBudget else {
                throw ConfigurationError(
                    "READ_REPLICA_MAX_LAG (\(Int(lag / .milliseconds(1))) ms) and FEED_CACHE_MAX_AGE_MS (\(Int(cache / .milliseconds(1))) ms) together exceed the 1 s a read may be stale: lower one"
                )
            }
        }
        if let host = environment["HOST"], !host.isEmpty {
            guard host.allSatisfy({ $0.isLetter || $0.isNumber || ".:-[]".contains($0) }) else {
                throw ConfigurationError("HOST '\(host)' is not a host name or address")
            }
            configuration.host = host
        }
        if let port = environment["PORT"], !port.isEmpty {
            guard let value = Int(port), (0...65535).contains(value) else {
                throw ConfigurationError("PORT '\(port)' is not a port number (0-65535)")
            }
            configuration.port = value
        }
        if let origin = environment["FRONTEND_URL"], !origin.isEmpty {
            guard let url = URL(string: origin), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil else {
                throw ConfigurationError("FRONTEND_URL '\(origin)' is not an http(s) origin like http://localhost:3000")
            }
            configuration.frontendURL = origin.hasSuffix("/") ? String(origin.dropLast()) : origin
        }
        if let timeout = environment["REQUEST_TIMEOUT"], !timeout.isEmpty {
            guard let seconds = Int(timeout), (1...3600).contains(seconds) else {
                throw ConfigurationError(
                    "REQUEST_TIMEOUT '\(WriteAuthentication.printable(timeout))' is not a whole number of seconds from 1 to 3600")
            }
            configuration.requestTimeout = .seconds(seconds)
        }
        switch environment["POST_RATE_LIMIT"] {
        case nil, "":
            break
        case "off":
            configuration.postRateLimit = nil
        case let value?:
            guard let limit = PostRateLimit(value) else {
                throw ConfigurationError(
                    "POST_RATE_LIMIT '\(WriteAuthentication.printable(value))' must be COUNT/WINDOW like 300/3h (window in s, m, h or d) or off")
            }
            configuration.postRateLimit = limit
        }
        if let hosts = environment["ALLOWED_HOSTS"], !hosts.isEmpty {
            configuration.extraAllowedHosts = try allowedHosts(hosts)
        }
        if let metricsPort = environment["METRICS_PORT"], !metricsPort.isEmpty {
            guard let value = Int(metricsPort), (1...65535).contains(value), value != configuration.port else {
                throw ConfigurationError(
                    "METRICS_PORT '\(WriteAuthentication.printable(metricsPort))' is not a port number (1-65535) other than PORT's")
            }
            configuration.metricsPort = value
        }
        return configuration
    }

    /// `ALLOWED_HOSTS`: comma-separated host names or addresses (IPv6 in brackets), without ports.
    static func allowedHosts(_ value: String) throws -> Set<String> {
        var hosts: Set<String> = []
        for entry in value.split(separator: ",", omittingEmptySubsequences: false) {
            let host = entry.trimmingCharacters(in: .whitespaces).lowercased()
            let isBracketedV6 =
                host.hasPrefix("[") && host.hasSuffix("]") && host.dropFirst().dropLast().allSatisfy { $0.isHexDigit || $0 == ":" || $0 == "." }
            let isName = !host.isEmpty && host.allSatisfy { ($0.isASCII && ($0.isLetter || $0.isNumber)) || $0 == "." || $0 == "-" }
            guard isBracketedV6 || isName else {
                throw ConfigurationError(
                    "ALLOWED_HOSTS entry '\(WriteAuthentication.printable(host))' is not a host name or address (no ports; IPv6 in brackets)")
            }
            hosts.insert(host.hasSuffix(".") ? String(host.dropLast()) : host)
        }
        return hosts
    }
}

/// A setting from the environment that cannot be used; says which and what to set, in one line without secrets.
public struct ConfigurationError: CruddurError, Equatable {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
