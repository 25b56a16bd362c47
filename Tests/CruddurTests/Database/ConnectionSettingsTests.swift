import CruddurDatabase
import Testing

@Suite("Connection URLs, parsed as libpq does")
struct ConnectionSettingsTests {
    let none = ["PGPASSFILE": "/dev/null", "USER": "alice"]

    @Test("user, password, host, port, database, sslmode")
    func full() throws {
        let settings = try ConnectionSettings(
            url: "postgresql://cruddurroot:s%40cret@db.example.com:6543/cruddur?sslmode=verify-full&sslrootcert=/etc/rds.pem", environment: none)
        #expect(settings.username == "cruddurroot")
        #expect(settings.password == "s@cret")
        #expect(settings.endpoint == .tcp(host: "db.example.com", port: 6543))
        #expect(settings.database == "cruddur")
        #expect(settings.sslMode == .verifyFull)
        #expect(settings.sslRootCertificatePath == "/etc/rds.pem")
        #expect(!settings.description.contains("s@cret") && !settings.description.contains("s%40cret"))
    }

    @Test("defaults: port 5432, sslmode prefer, user from the OS, database named after the user")
    func defaults() throws {
        let settings = try ConnectionSettings(url: "postgres://localhost", environment: none)
        #expect(settings.endpoint == .tcp(host: "localhost", port: 5432))
        #expect(settings.sslMode == .prefer)
        #expect(settings.username == "alice")
        #expect(settings.database == "alice")
        #expect(settings.password == nil)
    }

    @Test("unix sockets: percent-encoded host or ?host=")
    func sockets() throws {
        let encoded = try ConnectionSettings(url: "postgresql://postgres@%2Fvar%2Frun%2Fpostgresql/cruddur", environment: none)
        #expect(encoded.endpoint == .unixSocket(directory: "/var/run/postgresql", port: 5432))
        let query = try ConnectionSettings(url: "postgresql:///cruddur?host=/tmp/sock&port=5433", environment: none)
        #expect(query.endpoint == .unixSocket(directory: "/tmp/sock", port: 5433))
    }

    @Test("IPv6 hosts")
    func ipv6() throws {
        let settings = try ConnectionSettings(url: "postgresql://u@[::1]:5433/db", environment: none)
        #expect(settings.endpoint == .tcp(host: "::1", port: 5433))
    }

    @Test("password from PGPASSWORD, then the password file")
    func passwordSources() throws {
        let fromEnvironment = try ConnectionSettings(
            url: "postgresql://u@h/db", environment: ["PGPASSWORD": "env-secret", "PGPASSFILE": "/dev/null"])
        #expect(fromEnvironment.password == "env-secret")
        let file = "/tmp/cruddur-pgpass-\(UInt32.random(in: 0...UInt32.max))"
        try "# comment\nother:5432:*:u:wrong\nh:5432:db:u:file\\:secret\n".write(toFile: file, atomically: true, encoding: .utf8)
        let fromFile = try ConnectionSettings(url: "postgresql://u@h/db", environment: ["PGPASSFILE": file])
        #expect(fromFile.password == "file:secret")
    }

    @Test(
        "bad URLs are refused with a reason",
        arguments: [
            "mysql://u@h/db", "postgresql://u@h:notaport/db", "postgresql://u@h:70000/db",
            "postgresql://u@h/db?sslmode=sometimes", "postgresql://u@h/db?frobnicate=1", "postgresql://u@[::1/db",
            "postgresql://u@h/db%zz",
        ])
    func badURLs(url: String) {
        #expect(throws: ConnectionSettingsError.self) { try ConnectionSettings(url: url, environment: none) }
    }

    @Test("whether a URL carries a password")
    func carriesPassword() {
        #expect(ConnectionSettings.urlCarriesPassword("postgresql://u:p@h/db"))
        #expect(ConnectionSettings.urlCarriesPassword("postgresql://u@h/db?password=p"))
        #expect(!ConnectionSettings.urlCarriesPassword("postgresql://u@h/db"))
    }
}
