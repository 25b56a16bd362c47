import CruddurDatabase
import Foundation

/// The API's settings from the environment, validated.
public enum ServeSettings {
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> APIConfiguration {
        var configuration = APIConfiguration()
        switch environment["FEED_CACHE"] {
        case nil, "", "on": configuration.feedCache = true
        case "off": configuration.feedCache = false
        case let value?: throw ConfigurationError("FEED_CACHE '\(value)' must be on or off")
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
        return configuration
    }
}

/// A setting from the environment that cannot be used; says which and what to set, in one line without secrets.
public struct ConfigurationError: CruddurError, Equatable {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
