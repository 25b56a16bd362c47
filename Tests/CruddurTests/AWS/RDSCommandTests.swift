import CruddurDatabase
import Foundation
import Testing

/// `cruddur rds …` run as a user runs it, against moto_server, and read back with the `aws` CLI.
@Suite("cruddur rds create/status/stop/start/delete/url against moto_server", .serialized)
struct RDSCommandTests: RDSCommandTesting {
    @Test("create with the defaults: private, encrypted, 7 days of backups, protected, IAM auth, PostgreSQL 16, password in Secrets Manager")
    func createSecureDefaults() async throws {
        let moto = try await TestMoto.shared.endpoint()
        let result = try await cruddur(["rds", "create"], moto)
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.contains("cruddur-db-instance"))
        #expect(result.stdout.contains("cruddur rds status"))

        let instance = try await describe("cruddur-db-instance", moto)
        #expect(instance["DBInstanceClass"] as? String == "db.t3.micro")
        #expect(instance["Engine"] as? String == "postgres")
        #expect((instance["EngineVersion"] as? String)?.hasPrefix("16") == true)
        #expect(instance["MasterUsername"] as? String == "cruddurroot")
        #expect(instance["DBName"] as? String == "cruddur")
        #expect(instance["AllocatedStorage"] as? Int == 20)
        #expect(instance["StorageType"] as? String == "gp3")
        #expect((instance["Endpoint"] as? [String: Any])?["Port"] as? Int == 5432)
        #expect(instance["PubliclyAccessible"] as? Bool == false)
        #expect(instance["StorageEncrypted"] as? Bool == true)
        #expect(instance["BackupRetentionPeriod"] as? Int == 7)
        #expect(instance["DeletionProtection"] as? Bool == true)
        #expect(instance["IAMDatabaseAuthenticationEnabled"] as? Bool == true)
        #expect(instance["MultiAZ"] as? Bool == false)
        #expect((instance["MasterUserSecret"] as? [String: Any])?["SecretArn"] != nil)

        let again = try await cruddur(["rds", "create"], moto)
        expectOneLineFailure(again, containing: "DBInstanceAlreadyExists", moto)
    }

    @Test("create with the seed's workstation settings: --public, gp2, an AZ, a password from a named environment variable")
    func createPublicWithPasswordFromEnvironment() async throws {
        let moto = try await TestMoto.shared.endpoint()
        let identifier = uniqueIdentifier("public")
        let password = "Sup3r-Secret-Pw"
        let result = try await cruddur(
            [
                "rds", "create", "--identifier", identifier, "--public", "--storage-type", "gp2", "--availability-zone", "us-east-1a",
                "--engine-version", "15.5", "--master-password-env", "CRUDDUR_DB_PASSWORD", "--backup-retention", "14", "--json",
            ], moto, ["CRUDDUR_DB_PASSWORD": password])
        #expect(result.status == 0, "\(result)")
        #expect(result.json["identifier"] as? String == identifier)
        #expect(result.json["publiclyAccessible"] as? Bool == true)
        #expect(!result.stdout.contains(password) && !result.stderr.contains(password))

        let instance = try await describe(identifier, moto)
        #expect(instance["PubliclyAccessible"] as? Bool == true)
        #expect(instance["StorageType"] as? String == "gp2")
        #expect(instance["AvailabilityZone"] as? String == "us-east-1a")
        #expect(instance["EngineVersion"] as? String == "15.5")
        #expect(instance["BackupRetentionPeriod"] as? Int == 14)
        #expect(instance["MasterUserSecret"] == nil)
        #expect(instance["StorageEncrypted"] as? Bool == true)
        #expect(instance["DeletionProtection"] as? Bool == true)
    }

    @Test("create refuses bad input before calling AWS: old versions without force_ssl, unset password variables, bad names")
    func createValidation() async throws {
        let moto = try await TestMoto.shared.endpoint()
        let identifier = uniqueIdentifier("invalid")
        let cases: [([String], String)] = [
            (["--engine-version", "14.6"], "does not enforce TLS"),
            (["--master-password-env", "CRUDDUR_UNSET_VARIABLE"], "not set or empty"),
            (["--master-password-env", "hunter2 password"], "NAME of an environment variable"),
            (["--allocated-storage", "5"], "--allocated-storage"),
            (["--storage-type", "io1"], "--storage-type"),
            (["--backup-retention", "36"], "--backup-retention"),
            (["--master-username", "postgres"], "--master-username"),
        ]
        for (arguments, message) in cases {
            let result = try await cruddur(["rds", "create", "--identifier", identifier] + arguments, moto)
            #expect(result.status != 0, "\(arguments): \(result)")
            #expect(result.stderr.contains(message), "\(arguments): \(result)")
            #expect(result.stderr.trimmingCharacters(in: .newlines).split(separator: "\n").count == 1, "one line: \(result)")
        }
        let shortPassword = try await cruddur(["rds", "create", "--identifier", identifier, "--master-password-env", "PW"], moto, ["PW": "short"])
        expectOneLineFailure(shortPassword, containing: "8–128 printable ASCII", moto)
        #expect(!shortPassword.stderr.contains("short\n") && !shortPassword.stderr.contains("'short'"))
        let badIdentifier = try await cruddur(["rds", "status", "--identifier", "1-bad--name"], moto)
        #expect(badIdentifier.status != 0 && badIdentifier.stderr.contains("not a valid RDS instance identifier"), "\(badIdentifier)")
        let listed = try await moto.aws(["rds", "describe-db-instances", "--db-instance-identifier", identifier])
        #expect(listed.status != 0 && listed.stderr.contains("DBInstanceNotFound"), "nothing was created: \(listed)")
    }

    @Test("status shows state, endpoint and port for people and as JSON; a missing instance is one line")
    func status() async throws {
        let moto = try await TestMoto.shared.endpoint()
        let identifier = uniqueIdentifier("status")
        #expect(try await cruddur(["rds", "create", "--identifier", identifier], moto).status == 0)
        let human = try await cruddur(["rds", "status", "--identifier", identifier], moto)
        #expect(human.status == 0, "\(human)")
        #expect(human.stdout.contains("state") && human.stdout.contains("available"))
        #expect(human.stdout.contains("\(identifier).") && human.stdout.contains("5432"))
        #expect(human.stdout.contains("deletion protection  on"))

        let json = try await cruddur(["rds", "status", "--identifier", identifier, "--json"], moto)
        #expect(json.json["status"] as? String == "available")
        #expect(json.json["port"] as? Int == 5432)
        #expect((json.json["endpointAddress"] as? String)?.hasPrefix(identifier) == true)

        let missing = try await cruddur(["rds", "status", "--identifier", "missing-instance"], moto)
        expectOneLineFailure(missing, containing: "DBInstanceNotFound", moto)
    }

    @Test("stop, wait for stopped, stop again (InvalidDBInstanceState), wait times out, start, wait for available")
    func stopAndStart() async throws {
        let moto = try await TestMoto.shared.endpoint()
        let identifier = uniqueIdentifier("stop")
        #expect(try await cruddur(["rds", "create", "--identifier", identifier], moto).status == 0)

        let stop = try await cruddur(["rds", "stop", "--identifier", identifier], moto)
        #expect(stop.status == 0, "\(stop)")
        #expect(stop.stdout.contains("stopped") || stop.stdout.contains("stopping"))
        let stopped = try await cruddur(
            ["rds", "status", "--identifier", identifier, "--wait", "stopped", "--timeout", "20", "--interval", "1", "--json"], moto)
        #expect(stopped.status == 0, "\(stopped)")
        #expect(stopped.json["status"] as? String == "stopped")
        #expect(try await describe(identifier, moto)["DBInstanceStatus"] as? String == "stopped")

        expectOneLineFailure(try await cruddur(["rds", "stop", "--identifier", identifier], moto), containing: "InvalidDBInstanceState", moto)

        let started = ContinuousClock.now
        let timedOut = try await cruddur(
            ["rds", "status", "--identifier", identifier, "--wait", "available", "--timeout", "3", "--interval", "1"], moto)
        #expect(timedOut.status != 0, "\(timedOut)")
        #expect(timedOut.stderr.contains("waiting for \(identifier) to be available: stopped"), "a progress line: \(timedOut)")
        #expect(timedOut.stderr.contains("did not become available within 3 s (it is stopped)"), "\(timedOut)")
        #expect(ContinuousClock.now - started < .seconds(30))

        let start = try await cruddur(["rds", "start", "--identifier", identifier, "--json"], moto)
        #expect(start.status == 0, "\(start)")
        let available = try await cruddur(
            ["rds", "status", "--identifier", identifier, "--wait", "available", "--timeout", "20", "--interval", "1"], moto)
        #expect(available.status == 0 && available.stdout.contains("available"), "\(available)")
        #expect(try await describe(identifier, moto)["DBInstanceStatus"] as? String == "available")
        #expect(try await cruddur(["rds", "status", "--wait", "deleted"], moto).status != 0)
    }

    @Test("delete refuses while deletion protection is on and says how to lift it; then deletes with a final snapshot or without")
    func delete() async throws {
        let moto = try await TestMoto.shared.endpoint()
        let identifier = uniqueIdentifier("delete")
        #expect(try await cruddur(["rds", "create", "--identifier", identifier], moto).status == 0)

        let refused = try await cruddur(["rds", "delete", "--identifier", identifier], moto)
        expectOneLineFailure(refused, containing: "deletion protection on", moto)
        #expect(refused.stderr.contains("--lift-deletion-protection"))
        #expect(try await describe(identifier, moto)["DBInstanceStatus"] as? String == "available", "still there")

        let snapshot = "\(identifier)-last"
        let deleted = try await cruddur(
            ["rds", "delete", "--identifier", identifier, "--lift-deletion-protection", "--final-snapshot-identifier", snapshot], moto)
        #expect(deleted.status == 0, "\(deleted)")
        #expect(deleted.stdout.contains("final snapshot \(snapshot)"))
        let snapshots = try await moto.aws(["rds", "describe-db-snapshots", "--db-snapshot-identifier", snapshot])
        #expect(snapshots.status == 0, "\(snapshots)")
        #expect((snapshots.json["DBSnapshots"] as? [[String: Any]])?.first?["DBInstanceIdentifier"] as? String == identifier)
        let gone = try await moto.aws(["rds", "describe-db-instances", "--db-instance-identifier", identifier])
        #expect(gone.status != 0 && gone.stderr.contains("DBInstanceNotFound"), "\(gone)")

        let unprotected = uniqueIdentifier("unprotected")
        #expect(try await cruddur(["rds", "create", "--identifier", unprotected, "--no-deletion-protection"], moto).status == 0)
        #expect(try await describe(unprotected, moto)["DeletionProtection"] as? Bool == false)
        let quick = try await cruddur(["rds", "delete", "--identifier", unprotected, "--skip-final-snapshot", "--json"], moto)
        #expect(quick.status == 0, "\(quick)")
        #expect(quick.json["finalSnapshotIdentifier"] == nil)
        let conflicting = try await cruddur(
            ["rds", "delete", "--identifier", unprotected, "--skip-final-snapshot", "--final-snapshot-identifier", "x"], moto)
        #expect(conflicting.status != 0 && conflicting.stderr.contains("contradict"), "\(conflicting)")
        expectOneLineFailure(try await cruddur(["rds", "delete", "--identifier", unprotected], moto), containing: "DBInstanceNotFound", moto)
    }

    @Test("url prints PROD_CONNECTION_URL with verify-full and the CA bundle path; --with-password reads the managed secret")
    func url() async throws {
        let moto = try await TestMoto.shared.endpoint()
        let identifier = uniqueIdentifier("url")
        #expect(try await cruddur(["rds", "create", "--identifier", identifier], moto).status == 0)
        let home = makeTemporaryHome()

        let placeholder = try await runTool(cruddurExecutable, ["rds", "url", "--identifier", identifier], environment: moto.environment(home: home))
        #expect(placeholder.status == 0, "\(placeholder)")
        let line = placeholder.stdout.trimmingCharacters(in: .newlines)
        #expect(line.hasPrefix("postgresql://cruddurroot:<PASSWORD>@\(identifier)."))
        #expect(line.contains(":5432/cruddur?sslmode=verify-full&sslrootcert=\(home)/.postgresql/rds-global-bundle.pem"), "\(line)")
        #expect(placeholder.stderr.contains("https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"))

        let secretArn = try #require((try await describe(identifier, moto)["MasterUserSecret"] as? [String: Any])?["SecretArn"] as? String)
        let secret = try await moto.aws(["secretsmanager", "get-secret-value", "--secret-id", secretArn])
        let secretString = try #require(secret.json["SecretString"] as? String)
        let password = try #require((try JSONSerialization.jsonObject(with: Data(secretString.utf8)) as? [String: Any])?["password"] as? String)
        let encoded = try #require(
            password.addingPercentEncoding(
                withAllowedCharacters: CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")))

        let withPassword = try await cruddur(
            ["rds", "url", "--identifier", identifier, "--with-password", "--ca-bundle", "/etc/rds/ca.pem", "--json"], moto)
        #expect(withPassword.status == 0, "\(withPassword)")
        #expect((withPassword.json["url"] as? String)?.hasPrefix("postgresql://cruddurroot:\(encoded)@") == true, "\(withPassword)")
        #expect((withPassword.json["url"] as? String)?.hasSuffix("sslmode=verify-full&sslrootcert=/etc/rds/ca.pem") == true)
        #expect(withPassword.json["sslrootcert"] as? String == "/etc/rds/ca.pem")
        #expect(withPassword.json["caBundleSource"] as? String == "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem")
        #expect(!withPassword.stderr.contains(password))

        // The URL is one `cruddur db --prod` reads as meant: the password decoded, TLS verified against the bundle.
        let settings = try ConnectionSettings(url: try #require(withPassword.json["url"] as? String), environment: [:])
        #expect(settings.username == "cruddurroot")
        #expect(settings.password == password)
        #expect(settings.database == "cruddur")
        #expect(settings.sslMode == .verifyFull)
        #expect(settings.sslRootCertificatePath == "/etc/rds/ca.pem")
        if case .tcp(let host, let port) = settings.endpoint {
            #expect(host.hasPrefix(identifier) && port == 5432)
        } else {
            Issue.record("not a TCP endpoint: \(settings.endpoint)")
        }

        let ownPassword = uniqueIdentifier("ownpw")
        #expect(
            try await cruddur(["rds", "create", "--identifier", ownPassword, "--master-password-env", "PW"], moto, ["PW": "Another-Pass-42"]).status
                == 0)
        expectOneLineFailure(
            try await cruddur(["rds", "url", "--identifier", ownPassword, "--with-password"], moto), containing: "not managed by Secrets Manager",
            moto)
    }

    @Test("credentials from a ~/.aws profile work; a wrong secret fails with SignatureDoesNotMatch in one line; no region is a clear error")
    func credentialsAndSignatures() async throws {
        let moto = try await TestMoto.shared.endpoint()
        let identifier = uniqueIdentifier("creds")
        #expect(try await cruddur(["rds", "create", "--identifier", identifier], moto).status == 0)

        let home = makeTemporaryHome()
        try FileManager.default.createDirectory(atPath: home + "/.aws", withIntermediateDirectories: true)
        try "[cruddur]\naws_access_key_id = \(moto.accessKeyId)\naws_secret_access_key = \(moto.secretAccessKey)\n"
            .write(toFile: home + "/.aws/credentials", atomically: true, encoding: .utf8)
        try "[profile cruddur]\nregion = us-east-1\n".write(toFile: home + "/.aws/config", atomically: true, encoding: .utf8)
        let profileEnvironment = moto.environment(
            home: home, ["AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_DEFAULT_REGION": "", "AWS_PROFILE": "cruddur"])
        let viaProfile = try await runTool(
            cruddurExecutable, ["rds", "status", "--identifier", identifier, "--json"], environment: profileEnvironment)
        #expect(viaProfile.status == 0, "\(viaProfile)")
        #expect(viaProfile.json["identifier"] as? String == identifier)

        let wrongSecret = "wrong/\(UUID().uuidString)"
        let wronglySigned = try await cruddur(["rds", "status", "--identifier", identifier], moto, ["AWS_SECRET_ACCESS_KEY": wrongSecret])
        expectOneLineFailure(wronglySigned, containing: "SignatureDoesNotMatch", moto)
        #expect(!wronglySigned.stderr.contains(wrongSecret))

        let noRegion = try await cruddur(["rds", "status", "--identifier", identifier], moto, ["AWS_DEFAULT_REGION": ""])
        expectOneLineFailure(noRegion, containing: "no AWS region", moto)
        let noCredentials = try await cruddur(["rds", "status"], moto, ["AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""])
        expectOneLineFailure(noCredentials, containing: "no AWS credentials", moto)
        let unreachable = try await cruddur(
            ["rds", "status", "--endpoint-url", "http://127.0.0.1:\(try freePort())", "--request-timeout", "3"], moto)
        expectOneLineFailure(unreachable, containing: "cannot reach", moto)
    }
}
