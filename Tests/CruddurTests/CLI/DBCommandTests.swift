import CruddurAWS
import CruddurDatabase
import CruddurLocalPostgres
import Foundation
import Logging
import PostgresNIO
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Runs `cruddur db …` as a child process and returns its exit status and combined output.
private func db(
    _ arguments: [String], environment: [String: String] = [:], timeout: Duration = .seconds(60)
) async throws -> (status: Int32?, output: String) {
    let child = try ChildProcess(cruddurExecutable, ["db"] + arguments, environment: cleanEnvironment(environment))
    let status = await child.waitForExit(timeout: timeout)
    if status == nil { child.signal(SIGKILL) }
    return (status, child.output)
}

/// A libpq URL for a database on a unix-socket cluster, optionally with a password.
private func socketURL(_ settings: ConnectionSettings, database: String? = nil, password: String? = nil) throws -> String {
    guard case .unixSocket(let directory, _) = settings.endpoint else {
        throw CommandTestError("the test cluster is expected to listen on a unix socket")
    }
    let host = directory.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
    let credentials = password.map { "postgres:\($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)" } ?? "postgres"
    return "postgresql://\(credentials)@\(host)/\(database ?? settings.database)"
}

private struct CommandTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

private func lines(_ output: String) -> [Substring] {
    output.split(whereSeparator: \.isNewline)
}

private func freshName(_ prefix: String) -> String {
    "\(prefix)_\(UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(12))"
}

private func count(_ table: String, in settings: ConnectionSettings) async throws -> Int {
    try await withTestConnection(settings) { connection in
        let rows = try await connection.query(PostgresQuery(unsafeSQL: "SELECT count(*)::int FROM \(table)"), logger: TestPostgres.logger)
        for try await value in rows.decode(Int.self) { return value }
        return -1
    }
}

private func databaseExists(_ name: String, cluster settings: ConnectionSettings) async throws -> Bool {
    try await withTestConnection(settings.with(database: "postgres")) { connection in
        let rows = try await connection.query("SELECT count(*)::int FROM pg_database WHERE datname = \(name)", logger: TestPostgres.logger)
        for try await value in rows.decode(Int.self) { return value == 1 }
        return false
    }
}

@Suite("cruddur db: the seed's bin/db-* scripts as one CLI, on real clusters", .serialized)
struct DBCommandTests {
    @Test("db --help lists every command with a one-line description")
    func help() async throws {
        let (status, output) = try await db(["--help"])
        #expect(status == 0)
        for command in ["create", "drop", "schema-load", "migrate", "rollback", "status", "seed", "setup", "reset", "connect", "sessions", "wait"] {
            #expect(output.contains("  \(command) "), "missing \(command) in:\n\(output)")
        }
    }

    @Test("setup → status → rollback → migrate → seed twice → reset → drop, on CONNECTION_URL")
    func roundTrip() async throws {
        let cluster = try await TestPostgres.shared.makeDatabase()
        let name = freshName("cli")
        let url = try socketURL(cluster, database: name)
        let environment = ["CONNECTION_URL": url]
        let settings = cluster.with(database: name)

        let setup = try await db(["setup"], environment: environment)
        #expect(setup.status == 0, "\(setup.output)")
        #expect(setup.output.contains("Created database \(name)"))
        #expect(try await count("users", in: settings) == 2)
        let seededActivities = try await count("activities", in: settings)
        #expect(seededActivities > 0)

        let status = try await db(["status", "--exit-code"], environment: environment)
        #expect(status.status == 0, "\(status.output)")
        #expect(status.output.contains("applied") && !status.output.contains("pending"))

        let rollback = try await db(["rollback", "--steps", "\(Migration.all.count)"], environment: environment)
        #expect(rollback.status == 0, "\(rollback.output)")
        let pending = try await db(["status", "--exit-code"], environment: environment)
        #expect(pending.status == 1)
        #expect(pending.output.contains("pending"))
        let tablesAfterRollback = try await withTestConnection(settings) { connection in
            let rows = try await connection.query(
                "SELECT count(*)::int FROM pg_tables WHERE schemaname = 'public' AND tablename IN ('users', 'activities')",
                logger: TestPostgres.logger)
            for try await value in rows.decode(Int.self) { return value }
            return -1
        }
        #expect(tablesAfterRollback == 0)

        let migrate = try await db(["migrate"], environment: environment)
        #expect(migrate.status == 0, "\(migrate.output)")
        #expect(try await db(["status", "--exit-code"], environment: environment).status == 0)

        for _ in 0..<2 {
            let seed = try await db(["seed"], environment: environment)
            #expect(seed.status == 0, "\(seed.output)")
        }
        #expect(try await count("users", in: settings) == 2)
        #expect(try await count("activities", in: settings) == seededActivities)

        try await withTestConnection(settings) { connection in
            try await connection.query("DELETE FROM activities", logger: TestPostgres.logger).collect()
        }
        let reset = try await db(["reset"], environment: environment)
        #expect(reset.status == 0, "\(reset.output)")
        #expect(try await count("activities", in: settings) == seededActivities)

        let drop = try await db(["drop"], environment: environment)
        #expect(drop.status == 0, "\(drop.output)")
        #expect(try await !databaseExists(name, cluster: cluster))
        let dropAgain = try await db(["drop"], environment: environment)
        #expect(dropAgain.status == 1)
        #expect(lines(dropAgain.output).count == 1, "\(dropAgain.output)")
        #expect(dropAgain.output.hasPrefix("cruddur: ") && dropAgain.output.contains("does not exist"), "\(dropAgain.output)")

        let create = try await db(["create"], environment: environment)
        #expect(create.status == 0, "\(create.output)")
        let createAgain = try await db(["create"], environment: environment)
        #expect(createAgain.status == 1)
        #expect(lines(createAgain.output).count == 1 && createAgain.output.contains("already exists"), "\(createAgain.output)")
        #expect(try await db(["drop"], environment: environment).status == 0)
    }

    @Test("rollback --steps and migrate are symmetric; a bad --steps is refused before connecting")
    func rollbackSteps() async throws {
        let database = try await TestPostgres.shared.makeDatabase()
        let environment = ["CONNECTION_URL": try socketURL(database)]
        for _ in Migration.all {
            let rollback = try await db(["rollback", "--steps", "1"], environment: environment)
            #expect(rollback.status == 0, "\(rollback.output)")
            #expect(rollback.output.contains("Reverted"), "\(rollback.output)")
        }
        let nothingLeft = try await db(["rollback"], environment: environment)
        #expect(nothingLeft.status == 0, "\(nothingLeft.output)")
        #expect(nothingLeft.output.contains("No applied migrations to revert"), "\(nothingLeft.output)")
        for steps in ["0", "-1", "many"] {
            let bad = try await db(["rollback", "--steps", steps], environment: environment)
            #expect(bad.status == 64)
            #expect(lines(bad.output).count == 1 && bad.output.hasPrefix("cruddur: ") && bad.output.contains("steps"), "\(bad.output)")
        }
        #expect(try await db(["migrate"], environment: environment).status == 0)
    }

    @Test("schema-load fills an empty database, refuses a database with tables, and --force reloads")
    func schemaLoad() async throws {
        let empty = try await TestPostgres.shared.makeEmptyDatabase()
        let environment = ["CONNECTION_URL": try socketURL(empty)]
        let load = try await db(["schema-load"], environment: environment)
        #expect(load.status == 0, "\(load.output)")
        #expect(try await count("users", in: empty) == 0)

        try await withTestConnection(empty) { connection in
            try await SeedData.load(on: connection, logger: TestPostgres.logger)
        }
        let refused = try await db(["schema-load"], environment: environment)
        #expect(refused.status == 1)
        #expect(lines(refused.output).count == 1 && refused.output.contains("--force"), "\(refused.output)")
        #expect(try await count("users", in: empty) == 2)

        let forced = try await db(["schema-load", "--force"], environment: environment)
        #expect(forced.status == 0, "\(forced.output)")
        #expect(try await count("users", in: empty) == 0)
        #expect(try await db(["status", "--exit-code"], environment: environment).status == 0)
    }

    @Test("where and feed-cursor: the target's location for scripts, and the API's cursor after N live activities")
    func whereAndFeedCursor() async throws {
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        let environment = ["CONNECTION_URL": try socketURL(database)]
        let location = try await db(["where", "--json"], environment: environment)
        #expect(location.status == 0, "\(location.output)")
        let fields = try #require(try JSONSerialization.jsonObject(with: Data(location.output.utf8)) as? [String: Any])
        #expect(fields["kind"] as? String == "url" && fields["database"] as? String == database.database)

        let cursor = try await db(["feed-cursor", "--offset", "1", "--json"], environment: environment)
        #expect(cursor.status == 0, "\(cursor.output)")
        let token = try #require(try JSONSerialization.jsonObject(with: Data(cursor.output.utf8)) as? [String: String])["token"]
        try await withTestApp(database: database) { client in
            // The seed has one live activity: the page after the first is empty, and the first page's own cursor is the same.
            try await client.execute(uri: "/api/activities/home?limit=1", method: .get) { response in
                #expect(response.headers[.link]?.contains("cursor=\(token ?? "?")") == true, "\(response.headers)")
            }
        }
        let beyond = try await db(["feed-cursor", "--offset", "50"], environment: environment)
        #expect(beyond.status == 1 && lines(beyond.output).count == 1, "\(beyond.output)")
        #expect(try await db(["feed-cursor", "--offset", "0"], environment: environment).status == 64)
    }

    @Test("bad targets: --prod without PROD_CONNECTION_URL, a password in --url, a malformed URL, an unreachable server")
    func badTargets() async throws {
        let noProd = try await db(["status", "--prod"])
        #expect(noProd.status != 0 && noProd.status != nil)
        #expect(lines(noProd.output).count == 1 && noProd.output.contains("PROD_CONNECTION_URL"), "\(noProd.output)")

        let withPassword = try await db(["status", "--url", "postgresql://app:hunter2secret@127.0.0.1/cruddur"])
        #expect(withPassword.status != 0 && withPassword.status != nil)
        #expect(withPassword.output.contains("password"), "\(withPassword.output)")
        #expect(!withPassword.output.contains("hunter2secret"))

        let malformed = try await db(["status"], environment: ["CONNECTION_URL": "mysql://u:topsecretpw@host/db"])
        #expect(malformed.status == 1)
        #expect(lines(malformed.output).count == 1, "\(malformed.output)")
        #expect(!malformed.output.contains("topsecretpw"))

        let port = try freePort()
        let unreachable = try await db(["status"], environment: ["CONNECTION_URL": "postgresql://u:topsecretpw@127.0.0.1:\(port)/db"])
        #expect(unreachable.status == 1)
        #expect(lines(unreachable.output).count == 1, "\(unreachable.output)")
        #expect(!unreachable.output.contains("topsecretpw"))

        let started = ContinuousClock.now
        let wait = try await db(["wait", "--timeout", "2"], environment: ["CONNECTION_URL": "postgresql://u@127.0.0.1:\(port)/db"])
        #expect(wait.status == 1)
        #expect(ContinuousClock.now - started < .seconds(15))
        #expect(wait.output.contains("did not accept connections within 2 s"), "\(wait.output)")
    }

    @Test("wait and sessions on a live server: sessions shows who is connected")
    func waitAndSessions() async throws {
        let database = try await TestPostgres.shared.makeDatabase()
        let environment = ["CONNECTION_URL": try socketURL(database)]
        let wait = try await db(["wait", "--timeout", "5"], environment: environment)
        #expect(wait.status == 0, "\(wait.output)")
        #expect(wait.output.contains("accepts connections"))

        let sessions = try await db(["sessions", "--wait", "5"], environment: environment)
        #expect(sessions.status == 0, "\(sessions.output)")
        let header = lines(sessions.output).first.map(String.init) ?? ""
        for column in ["process_id", "user", "db", "client_addr", "app", "state"] {
            #expect(header.contains(column), "\(header)")
        }
        #expect(sessions.output.contains("cruddur-cli"), "\(sessions.output)")
    }
}

/// A second throwaway cluster with a password, standing in for RDS behind PROD_CONNECTION_URL.
@Suite("cruddur db --prod against a password-protected stand-in cluster", .serialized)
struct DBProductionTests {
    static let password = "pr0d-Secret:with@odd/chars"
    static let appRolePassword = "app-r0le-Secret"

    /// Starts the stand-in once for the suite; every test uses its own database on it.
    actor StandIn {
        static let shared = StandIn()
        private var lease: LocalClusterLease?

        func cluster() async throws -> LocalCluster {
            if let lease { return lease.cluster }
            let cluster = try await LocalCluster.temporary(label: "prod", superuserPassword: DBProductionTests.password)
            lease = try await cluster.acquire(logger: TestPostgres.logger)
            return cluster
        }
    }

    func productionEnvironment(database: String) async throws -> (environment: [String: String], settings: ConnectionSettings) {
        let cluster = try await StandIn.shared.cluster()
        let settings = cluster.connectionSettings(database: database)
        let url = try socketURL(settings, password: Self.password)
        return (["PROD_CONNECTION_URL": url, "CRUDDUR_APP_ROLE_PASSWORD": Self.appRolePassword], settings)
    }

    @Test("setup --prod migrates without seeding; destructive commands need --yes-i-mean-production")
    func productionGuard() async throws {
        let name = freshName("prod")
        let (environment, settings) = try await productionEnvironment(database: name)
        var outputs: [String] = []

        let setup = try await db(["setup", "--prod"], environment: environment)
        outputs.append(setup.output)
        #expect(setup.status == 0, "\(setup.output)")
        #expect(try await count("users", in: settings) == 0)

        for arguments in [
            ["drop", "--prod"], ["reset", "--prod"], ["rollback", "--prod"], ["schema-load", "--force", "--prod"], ["seed", "--prod"],
        ] {
            let refused = try await db(arguments, environment: environment)
            outputs.append(refused.output)
            #expect(refused.status == 1, "\(arguments): \(refused.output)")
            #expect(lines(refused.output).count == 1 && refused.output.contains("--yes-i-mean-production"), "\(arguments): \(refused.output)")
        }
        #expect(try await db(["status", "--prod", "--exit-code"], environment: environment).status == 0)
        #expect(try await count("users", in: settings) == 0)

        let rollback = try await db(["rollback", "--prod", "--yes-i-mean-production"], environment: environment)
        outputs.append(rollback.output)
        #expect(rollback.status == 0, "\(rollback.output)")
        let drop = try await db(["drop", "--prod", "--yes-i-mean-production"], environment: environment)
        outputs.append(drop.output)
        #expect(drop.status == 0, "\(drop.output)")
        #expect(try await !databaseExists(name, cluster: settings))

        for output in outputs {
            #expect(!output.contains(Self.password) && !output.contains("pr0d-Secret"), "\(output)")
        }
    }

    @Test("a database that setup --prod or migrate --prod marked is protected however it is reached (--url, CONNECTION_URL)")
    func productionMarkFollowsTheDatabase() async throws {
        let name = freshName("marked")
        let (environment, settings) = try await productionEnvironment(database: name)
        #expect(try await db(["setup", "--prod"], environment: environment).status == 0)
        let plainURL = try socketURL(settings)
        let byURL = ["PGPASSWORD": Self.password]
        let byConnectionURL = ["CONNECTION_URL": try socketURL(settings, password: Self.password)]
        for (arguments, environment) in [
            (["drop", "--url", plainURL], byURL), (["reset", "--url", plainURL], byURL), (["seed"], byConnectionURL),
            (["drop"], byConnectionURL), (["rollback"], byConnectionURL), (["schema-load", "--force"], byConnectionURL),
        ] {
            let refused = try await db(arguments, environment: environment)
            #expect(refused.status == 1, "\(arguments): \(refused.output)")
            #expect(lines(refused.output).count == 1 && refused.output.contains("marked so by setup --prod"), "\(arguments): \(refused.output)")
            #expect(!refused.output.contains(Self.password))
        }
        #expect(try await databaseExists(name, cluster: settings))
        #expect(try await count("users", in: settings) == 0)

        // A database set up without --prod is not marked; `migrate --prod` marks it.
        let other = freshName("unmarked")
        let (otherEnvironment, otherSettings) = try await productionEnvironment(database: other)
        let otherURL = ["CONNECTION_URL": try socketURL(otherSettings, password: Self.password)]
        #expect(try await db(["setup"], environment: otherURL).status == 0)
        #expect(try await db(["rollback"], environment: otherURL).status == 0, "unmarked: no confirmation needed")
        #expect(try await db(["migrate", "--prod"], environment: otherEnvironment).status == 0)
        #expect(try await db(["rollback"], environment: otherURL).status == 1)

        let confirmed = try await db(["drop", "--url", plainURL, "--yes-i-mean-production"], environment: byURL)
        #expect(confirmed.status == 0, "\(confirmed.output)")
        #expect(try await !databaseExists(name, cluster: settings))
        #expect(try await db(["drop", "--yes-i-mean-production"], environment: otherURL).status == 0)
    }

    @Test("a wrong password is one line that names no password")
    func wrongPassword() async throws {
        let (_, settings) = try await productionEnvironment(database: "postgres")
        let url = try socketURL(settings, password: "not-the-Password-123")
        let failed = try await db(["status", "--prod"], environment: ["PROD_CONNECTION_URL": url])
        #expect(failed.status == 1)
        #expect(lines(failed.output).count == 1, "\(failed.output)")
        #expect(failed.output.contains("password authentication failed"), "\(failed.output)")
        #expect(!failed.output.contains("not-the-Password-123"))

        let viaPGPASSWORD = try await db(
            ["status", "--prod"],
            environment: [
                "PROD_CONNECTION_URL": try socketURL(settings), "PGPASSWORD": Self.password,
            ])
        #expect(viaPGPASSWORD.status == 0, "\(viaPGPASSWORD.output)")
        #expect(!viaPGPASSWORD.output.contains(Self.password))
    }

    @Test("connect hands the password to psql through a private file: never in any process's argv")
    func connectKeepsPasswordOffArgv() async throws {
        let name = freshName("conn")
        let (environment, _) = try await productionEnvironment(database: name)
        #expect(try await db(["create", "--prod"], environment: environment).status == 0)

        let child = try ChildProcess(
            cruddurExecutable, ["db", "connect", "--prod", "--", "-tA", "-c", "select 'connected as ' || current_user, pg_sleep(2)"],
            environment: cleanEnvironment(environment))
        var sawPsql = false
        var leaked: [String] = []
        let deadline = ContinuousClock.now + .seconds(20)
        var status: Int32?
        while ContinuousClock.now < deadline {
            for (command, line) in allCommandLines() {
                if command.contains("psql") { sawPsql = true }
                if line.contains("pr0d-Secret") { leaked.append(line) }
            }
            status = await child.waitForExit(timeout: .milliseconds(100))
            if status != nil { break }
        }
        #expect(status == 0, "\(child.output)")
        #expect(sawPsql, "psql was never seen running")
        #expect(leaked.isEmpty, "\(leaked)")
        #expect(child.output.contains("connected as postgres"), "\(child.output)")
        #expect(!child.output.contains("pr0d-Secret"))
        #expect(try await db(["drop", "--prod", "--yes-i-mean-production"], environment: environment).status == 0)
    }

    /// Makes a Secrets Manager secret in moto as RDS shapes it (`{"username", "password"}`); returns its ARN.
    func makeMasterSecret(_ moto: MotoEndpoint, username: String, password: String) async throws -> String {
        let home = makeTemporaryHome()
        let document = home + "/secret.json"
        let body = try JSONSerialization.data(withJSONObject: ["username": username, "password": password])
        try body.write(to: URL(fileURLWithPath: document))
        let created = try await moto.aws([
            "secretsmanager", "create-secret", "--name", "rds!db-\(UUID().uuidString.prefix(8).lowercased())",
            "--secret-string", "file://\(document)",
        ])
        try #require(created.status == 0, "\(created)")
        return try #require(created.json["ARN"] as? String)
    }

    @Test("--master-secret reads the master password from Secrets Manager instead of PGPASSWORD; the secret's user must match")
    func masterSecret() async throws {
        let moto = try await TestMoto.shared.endpoint()
        let (_, settings) = try await productionEnvironment(database: "postgres")
        let arn = try await makeMasterSecret(moto, username: "postgres", password: Self.password)
        let environment = moto.environment(["PROD_CONNECTION_URL": try socketURL(settings), "PGPASSWORD": "stale-Rotated-away"])

        let stale = try await db(["status", "--prod"], environment: environment)
        #expect(stale.status == 1 && stale.output.contains("password authentication failed"), "\(stale.output)")

        let fromSecret = try await db(["status", "--prod", "--master-secret", arn], environment: environment)
        #expect(fromSecret.status == 0, "\(fromSecret.output)")
        #expect(!fromSecret.output.contains(Self.password))

        let otherUser = try await makeMasterSecret(moto, username: "cruddurroot", password: Self.password)
        let mismatch = try await db(["status", "--prod", "--master-secret", otherUser], environment: environment)
        #expect(mismatch.status == 1 && lines(mismatch.output).count == 1, "\(mismatch.output)")
        #expect(mismatch.output.contains("the password of cruddurroot"), "\(mismatch.output)")

        let missing = try await db(["status", "--prod", "--master-secret", "no-such-secret"], environment: environment)
        #expect(missing.status == 1 && lines(missing.output).count == 1, "\(missing.output)")
        #expect(missing.output.contains("ResourceNotFoundException"), "\(missing.output)")

        let withoutProd = try await db(["status", "--master-secret", arn], environment: environment)
        #expect(withoutProd.status != 0 && withoutProd.output.contains("--master-secret applies to --prod only"), "\(withoutProd.output)")

        // No password anywhere: the secret of the instance whose endpoint the URL names, found through DescribeDBInstances.
        let rdsHost = "nowhere.abcdefghijkl.us-east-1.rds.amazonaws.com"
        let nowhere = try await db(
            ["status", "--prod"], environment: moto.environment(["PROD_CONNECTION_URL": "postgresql://cruddurroot@\(rdsHost)/postgres"]))
        #expect(nowhere.status == 1 && lines(nowhere.output).count == 1, "\(nowhere.output)")
        #expect(nowhere.output.contains("no RDS instance in us-east-1 has the endpoint \(rdsHost)"), "\(nowhere.output)")

        // A host that is no RDS endpoint is connected to as before: no AWS call, so no AWS error without AWS settings.
        let plain = try await db(["status", "--prod"], environment: ["PROD_CONNECTION_URL": "postgresql://postgres@127.0.0.1:1/postgres"])
        #expect(plain.status == 1 && lines(plain.output).count == 1, "\(plain.output)")
        #expect(!plain.output.contains("AWS") && !plain.output.contains("Secrets Manager"), "\(plain.output)")

    }

    @Test("the instance whose endpoint a URL names is found through DescribeDBInstances, with its managed master secret")
    func masterSecretDiscovery() async throws {
        let moto = try await TestMoto.shared.endpoint()
        let identifier = "found-\(UUID().uuidString.prefix(8).lowercased())"
        let created = try await moto.aws([
            "rds", "create-db-instance", "--db-instance-identifier", identifier, "--engine", "postgres", "--db-instance-class", "db.t3.micro",
            "--master-username", "cruddurroot", "--manage-master-user-password", "--allocated-storage", "20",
        ])
        try #require(created.status == 0, "\(created)")
        let described = try await moto.aws(["rds", "describe-db-instances", "--db-instance-identifier", identifier])
        let instance = try #require((described.json["DBInstances"] as? [[String: Any]])?.first)
        let address = try #require((instance["Endpoint"] as? [String: Any])?["Address"] as? String)
        let secretArn = try #require((instance["MasterUserSecret"] as? [String: Any])?["SecretArn"] as? String)

        let client = AWSClient(
            configuration: AWSConfiguration(
                credentials: AWSCredentials(accessKeyId: moto.accessKeyId, secretAccessKey: moto.secretAccessKey), region: moto.region,
                endpointOverride: URL(string: moto.url)))
        let found = try #require(try await RDSClient(client).instance(withEndpoint: address.uppercased()))
        #expect(found.identifier == identifier)
        #expect(found.masterUserSecretArn == secretArn)
        #expect(try await RDSClient(client).instance(withEndpoint: "elsewhere.example.com") == nil)

        let value = try await moto.aws(["secretsmanager", "get-secret-value", "--secret-id", secretArn])
        let secret = try #require(value.json["SecretString"] as? String)
        let expected = try #require((try JSONSerialization.jsonObject(with: Data(secret.utf8)) as? [String: Any])?["password"] as? String)
        #expect(try await SecretsManagerClient(client).databaseCredentials(secretId: secretArn).password == expected)
    }

    @Test("setup --app-role NAME --iam grants rds_iam and sets no password; without rds_iam (not RDS) it fails in one line")
    func applicationRoleWithIAM() async throws {
        let name = freshName("iamrole")
        let (environment, settings) = try await productionEnvironment(database: name)
        let admin = settings.with(database: "postgres")
        try await withTestConnection(admin) { connection in
            _ = try await connection.query("DROP ROLE IF EXISTS rds_iam", logger: TestPostgres.logger).collect()
        }
        let refused = try await db(["setup", "--prod", "--app-role", "cruddur_iam", "--iam"], environment: environment)
        #expect(refused.status == 1 && refused.output.contains("rds_iam"), "\(refused.output)")
        #expect(lines(refused.output).filter { $0.contains("rds_iam") }.count == 1, "\(refused.output)")
        #expect(!refused.output.contains("PostgresTransactionError"), "\(refused.output)")

        try await withTestConnection(admin) { connection in
            _ = try await connection.query("CREATE ROLE rds_iam NOLOGIN", logger: TestPostgres.logger).collect()
        }
        let setup = try await db(["setup", "--prod", "--app-role", "cruddur_iam", "--iam"], environment: environment)
        #expect(setup.status == 0, "\(setup.output)")
        let (member, passwordless) = try await withTestConnection(admin) { connection in
            let rows = try await connection.query(
                """
                SELECT pg_has_role('cruddur_iam', 'rds_iam', 'MEMBER'), rolpassword IS NULL FROM pg_authid WHERE rolname = 'cruddur_iam'
                """, logger: TestPostgres.logger)
            for try await row in rows.decode((Bool, Bool).self) { return row }
            return (false, false)
        }
        #expect(member)
        #expect(passwordless)
        let wrongFlag = try await db(["setup", "--prod", "--iam"], environment: environment)
        #expect(wrongFlag.status != 0 && wrongFlag.output.contains("--iam applies to --app-role"), "\(wrongFlag.output)")
    }

    @Test("setup --app-role makes a login role that reads and writes the tables but runs no DDL")
    func applicationRole() async throws {
        let name = freshName("role")
        let (environment, settings) = try await productionEnvironment(database: name)
        let setup = try await db(["setup", "--prod", "--app-role", "cruddur_app"], environment: environment)
        #expect(setup.status == 0, "\(setup.output)")
        #expect(!setup.output.contains(Self.appRolePassword))

        let missing = try await db(
            ["migrate", "--prod", "--app-role", "cruddur_app"],
            environment: [
                "PROD_CONNECTION_URL": environment["PROD_CONNECTION_URL"]!
            ])
        #expect(missing.status == 1)
        #expect(missing.output.contains("CRUDDUR_APP_ROLE_PASSWORD"), "\(missing.output)")
        let badName = try await db(["setup", "--prod", "--app-role", "Robert'); DROP TABLE users;--"], environment: environment)
        #expect(badName.status != 0 && badName.status != nil)

        var app = settings
        app.username = "cruddur_app"
        app.password = Self.appRolePassword
        try await withTestConnection(app) { connection in
            try await connection.query(
                """
                INSERT INTO users (display_name, handle, email, cognito_user_id) VALUES ('App', 'approle', 'app@example.com', 'app-sub')
                """, logger: TestPostgres.logger
            ).collect()
            try await connection.query("UPDATE users SET display_name = 'App Role' WHERE handle = 'approle'", logger: TestPostgres.logger).collect()
            for ddl in ["CREATE TABLE intruder (id int)", "DROP TABLE activities", "ALTER TABLE users ADD COLUMN x int", "TRUNCATE users"] {
                await #expect(throws: PSQLError.self, "\(ddl) should be refused") {
                    try await connection.query(PostgresQuery(unsafeSQL: ddl), logger: TestPostgres.logger).collect()
                }
            }
        }
        #expect(try await count("users", in: settings) == 1)
    }

    @Test("the app role's password never reaches the server's log, even with every statement logged")
    func applicationRolePasswordStaysOutOfTheLog() async throws {
        let name = freshName("rolelog")
        let (environment, settings) = try await productionEnvironment(database: name)
        #expect(try await db(["create", "--prod"], environment: environment).status == 0)
        try await withTestConnection(settings.with(database: "postgres")) { connection in
            try await connection.query(
                PostgresQuery(unsafeSQL: "ALTER DATABASE \(name) SET log_statement = 'all'"), logger: TestPostgres.logger
            ).collect()
            return
        }
        let secret = "Unl0gged-\(UUID().uuidString.prefix(8))"
        let setup = try await db(
            ["setup", "--prod", "--app-role", "logged_app"], environment: environment.merging(["CRUDDUR_APP_ROLE_PASSWORD": secret]) { $1 })
        #expect(setup.status == 0, "\(setup.output)")
        var app = settings
        app.username = "logged_app"
        app.password = secret
        #expect(try await withTestConnection(app) { _ in true })
        let cluster = try await StandIn.shared.cluster()
        let log = try String(contentsOfFile: cluster.layout.logFile, encoding: .utf8)
        #expect(log.contains("logged_app"), "statements were logged")
        #expect(!log.contains(secret), "the password is in the server log")
        #expect(try await db(["drop", "--prod", "--yes-i-mean-production"], environment: environment).status == 0)
    }

    @Test("the app role may not be the connecting user, a superuser or an owner; PUBLIC loses CREATE on schema public")
    func applicationRoleChecks() async throws {
        let name = freshName("rolechk")
        let (environment, settings) = try await productionEnvironment(database: name)
        #expect(try await db(["setup", "--prod"], environment: environment).status == 0)
        try await withTestConnection(settings) { connection in
            for sql in [
                "CREATE ROLE table_owner LOGIN", "CREATE TABLE owned_elsewhere (id int)", "ALTER TABLE owned_elsewhere OWNER TO table_owner",
                "CREATE ROLE another_superuser SUPERUSER", "GRANT CREATE ON SCHEMA public TO PUBLIC",
            ] {
                try await connection.query(PostgresQuery(unsafeSQL: sql), logger: TestPostgres.logger).collect()
            }
        }
        for (role, reason) in [
            ("postgres", "it is the user this command connects as"), ("another_superuser", "it is a superuser"), ("table_owner", "it owns objects"),
        ] {
            let refused = try await db(["migrate", "--prod", "--app-role", role], environment: environment)
            #expect(refused.status == 1, "\(role): \(refused.output)")
            #expect(lines(refused.output).count == 1 && refused.output.contains(reason), "\(role): \(refused.output)")
        }
        #expect(try await db(["migrate", "--prod", "--app-role", "fresh_app"], environment: environment).status == 0)
        var app = settings
        app.username = "fresh_app"
        app.password = Self.appRolePassword
        try await withTestConnection(app) { connection in
            await #expect(throws: PSQLError.self, "PUBLIC's CREATE on schema public was revoked") {
                try await connection.query("CREATE TABLE through_public (id int)", logger: TestPostgres.logger).collect()
            }
        }
        #expect(try await db(["drop", "--prod", "--yes-i-mean-production"], environment: environment).status == 0)
    }
}

/// Every process's command line, read from /proc (what `ps` shows to every user of the machine).
private func allCommandLines() -> [(command: String, line: String)] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap { entry in
        guard Int32(entry) != nil, let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline"), !data.isEmpty else { return nil }
        let parts = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        return (parts.first ?? "", parts.joined(separator: " "))
    }
}
