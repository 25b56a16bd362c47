import Foundation

extension ConnectionSettings {
    /// Parses a libpq connection URI: `postgresql://[user[:password]@][host][:port][/dbname][?param=value&…]`.
    ///
    /// Honours percent-encoding, `[v6]` hosts, unix-socket directories (a host starting with `/`, percent-encoded
    /// in the authority or given as `?host=`), and the parameters `sslmode`, `sslrootcert`, `host`, `port`,
    /// `user`, `password`, `dbname`, `application_name`, `connect_timeout`. A missing password is looked up in
    /// `PGPASSWORD` and then the password file (`PGPASSFILE` or `~/.pgpass`), as libpq does.
    public init(url: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        let schemes = ["postgresql://", "postgres://"]
        guard let scheme = schemes.first(where: { url.hasPrefix($0) }) else {
            throw ConnectionSettingsError.invalidURL("it must start with postgresql:// or postgres://")
        }
        var rest = Substring(url.dropFirst(scheme.count))
        var query = Substring()
        if let questionMark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: questionMark)...]
            rest = rest[..<questionMark]
        }
        var path = Substring()
        if let slash = rest.firstIndex(of: "/") {
            path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }
        var userInfo: Substring?
        if let at = rest.lastIndex(of: "@") {
            userInfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
        }

        var user: String?
        var password: String?
        if let userInfo {
            if let colon = userInfo.firstIndex(of: ":") {
                user = try Self.decode(userInfo[..<colon], what: "user name")
                password = try Self.decode(userInfo[userInfo.index(after: colon)...], what: "password")
            } else {
                user = try Self.decode(userInfo, what: "user name")
            }
        }

        var host: String?
        var portText: String?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw ConnectionSettingsError.invalidURL("unterminated [ in host") }
            host = String(rest[rest.index(after: rest.startIndex)..<close])
            let after = rest[rest.index(after: close)...]
            if after.hasPrefix(":") {
                portText = String(after.dropFirst())
            } else if !after.isEmpty {
                throw ConnectionSettingsError.invalidURL("unexpected text after ]")
            }
        } else if let colon = rest.lastIndex(of: ":") {
            host = try Self.decode(rest[..<colon], what: "host")
            portText = String(rest[rest.index(after: colon)...])
        } else if !rest.isEmpty {
            host = try Self.decode(rest, what: "host")
        }
        if host?.contains(",") == true {
            throw ConnectionSettingsError.invalidURL("several hosts are not supported")
        }
        var database = path.isEmpty ? nil : try Self.decode(path, what: "database name")
        var sslMode = SSLMode.prefer
        var rootCertificate: String?
        var applicationName: String?
        var connectTimeout = Duration.seconds(5)

        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = try Self.decode(parts[0], what: "parameter name")
            let value = parts.count > 1 ? try Self.decode(parts[1], what: "parameter \(name)") : ""
            switch name {
            case "sslmode":
                guard let mode = SSLMode(rawValue: value) else { throw ConnectionSettingsError.invalidSSLMode(value) }
                sslMode = mode
            case "sslrootcert": rootCertificate = value == "system" ? nil : value
            case "host": host = value
            case "port": portText = value
            case "user": user = value
            case "password": password = value
            case "dbname": database = value
            case "application_name": applicationName = value
            case "connect_timeout":
                guard let seconds = Int(value), seconds > 0, seconds <= 3600 else {
                    throw ConnectionSettingsError.invalidURL("connect_timeout must be a number of seconds from 1 to 3600")
                }
                connectTimeout = .seconds(seconds)
            default:
                throw ConnectionSettingsError.unsupportedParameter(name)
            }
        }

        var port = 5432
        if let portText, !portText.isEmpty {
            guard let value = Int(portText), (1...65535).contains(value) else { throw ConnectionSettingsError.invalidPort(portText) }
            port = value
        }
        let resolvedHost = (host?.isEmpty == false ? host : nil) ?? "/var/run/postgresql"
        let endpoint: Endpoint =
            resolvedHost.hasPrefix("/")
            ? .unixSocket(directory: resolvedHost, port: port)
            : .tcp(host: resolvedHost, port: port)
        let resolvedUser = (user?.isEmpty == false ? user : nil) ?? environment["PGUSER"] ?? environment["USER"] ?? NSUserName()
        let resolvedDatabase = (database?.isEmpty == false ? database : nil) ?? resolvedUser

        if password == nil || password == "" {
            password =
                environment["PGPASSWORD"].flatMap { $0.isEmpty ? nil : $0 }
                ?? PasswordFile(environment: environment).password(
                    host: resolvedHost, port: port, database: resolvedDatabase, user: resolvedUser
                )
        }
        self.init(
            endpoint: endpoint, username: resolvedUser, password: password, database: resolvedDatabase,
            sslMode: sslMode, sslRootCertificatePath: rootCertificate, applicationName: applicationName,
            connectTimeout: connectTimeout
        )
    }

    /// True when the URL text itself carries a password (in the user info or as `?password=`).
    public static func urlCarriesPassword(_ url: String) -> Bool {
        let isolated = ["PGPASSFILE": "/dev/null", "USER": "nobody"]
        return (try? ConnectionSettings(url: url, environment: isolated))?.password != nil
    }

    private static func decode(_ text: Substring, what: String) throws -> String {
        guard let decoded = String(text).removingPercentEncoding else {
            throw ConnectionSettingsError.invalidURL("bad percent-encoding in the \(what)")
        }
        return decoded
    }
}

/// libpq's password file: lines of `host:port:database:user:password`, `*` matching anything, `\` escaping.
struct PasswordFile {
    let path: String?

    init(environment: [String: String]) {
        if let explicit = environment["PGPASSFILE"] {
            path = explicit
        } else if let home = environment["HOME"] {
            path = home + "/.pgpass"
        } else {
            path = nil
        }
    }

    func password(host: String, port: Int, database: String, user: String) -> String? {
        guard let path, let contents = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        let lookupHost = host.hasPrefix("/") ? "localhost" : host
        for line in contents.split(whereSeparator: \.isNewline) where !line.hasPrefix("#") {
            let fields = Self.fields(of: line)
            guard fields.count == 5 else { continue }
            let wanted = [lookupHost, String(port), database, user]
            if zip(fields.prefix(4), wanted).allSatisfy({ $0 == "*" || $0 == $1 }) {
                return fields[4]
            }
        }
        return nil
    }

    private static func fields(of line: Substring) -> [String] {
        var fields: [String] = []
        var current = ""
        var escaping = false
        for character in line {
            if escaping {
                current.append(character)
                escaping = false
            } else if character == "\\" {
                escaping = true
            } else if character == ":" && fields.count < 4 {
                fields.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        fields.append(current)
        return fields
    }
}
