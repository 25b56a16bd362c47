import CruddurDatabase
import CruddurLocalPostgres
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// What a finished command printed, apart, and how it ended.
struct ToolResult: CustomStringConvertible {
    let status: Int32
    let stdout: String
    let stderr: String

    var description: String { "exit \(status)\nstdout: \(stdout)\nstderr: \(stderr)" }

    /// The standard output as a JSON object.
    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(stdout.utf8))) as? [String: Any] ?? [:]
    }
}

/// Runs a command (found on the environment's PATH) to completion with stdout and stderr captured apart;
/// killed when it outlives `timeout`.
func runTool(_ command: String, _ arguments: [String], environment: [String: String], timeout: Duration = .seconds(120)) async throws -> ToolResult {
    let base = NSTemporaryDirectory() + "cruddur-tool-\(UUID().uuidString)"
    defer {
        try? FileManager.default.removeItem(atPath: base + ".out")
        try? FileManager.default.removeItem(atPath: base + ".err")
    }
    // The shell gives stderr its own file; stdout goes where Subprocess puts its output.
    let child = try SpawnedProcess(
        ["/bin/sh", "-c", "exec \"$@\" 2>\"$ERRFILE\"", "sh", command] + arguments,
        environment: environment.merging(["ERRFILE": base + ".err"]) { $1 },
        outputPath: base + ".out"
    )
    guard let status = await child.wait(timeout: timeout) else {
        child.signal(SIGKILL)
        _ = await child.wait(timeout: .seconds(5))
        throw TestMotoError("\(command) \(arguments.prefix(3).joined(separator: " ")) did not finish within \(timeout)")
    }
    return ToolResult(
        status: status,
        stdout: (try? String(contentsOfFile: base + ".out", encoding: .utf8)) ?? "",
        stderr: (try? String(contentsOfFile: base + ".err", encoding: .utf8)) ?? ""
    )
}

struct TestMotoError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A running moto_server with signature checking on, and the IAM user the tests sign as.
struct MotoEndpoint: Sendable {
    let url: String
    let accessKeyId: String
    let secretAccessKey: String
    let region = "us-east-1"
    /// A VPC made for the tests' security groups.
    let vpcId: String

    /// A clean environment for a child (`cruddur` or `aws`): HOME in a fresh temporary folder, only the AWS settings given.
    func environment(home: String? = nil, _ overrides: [String: String] = [:]) -> [String: String] {
        var environment: [String: String] = [
            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin",
            "HOME": home ?? makeTemporaryHome(),
            "LANG": "C.UTF-8",
            "AWS_ACCESS_KEY_ID": accessKeyId,
            "AWS_SECRET_ACCESS_KEY": secretAccessKey,
            "AWS_DEFAULT_REGION": region,
            "AWS_ENDPOINT_URL": url,
            "AWS_PAGER": "",
        ]
        for name in ["PYENV_ROOT", "PYENV_VERSION"] {
            if let value = ProcessInfo.processInfo.environment[name] { environment[name] = value }
        }
        return environment.merging(overrides) { $1 }.filter { !$0.value.isEmpty || $0.key == "AWS_PAGER" }
    }

    /// Runs the `aws` CLI against moto, signed as the test user; JSON output.
    func aws(_ arguments: [String], environment overrides: [String: String] = [:]) async throws -> ToolResult {
        try await runTool("aws", ["--endpoint-url", url, "--output", "json"] + arguments, environment: environment(overrides))
    }

    /// A security group in the test VPC with one inbound PostgreSQL rule from 198.51.100.1/32: (group id, rule id).
    func makeSecurityGroupRule() async throws -> (groupId: String, ruleId: String) {
        let name = "cruddur-db-\(UUID().uuidString.prefix(8))"
        let group = try await aws(["ec2", "create-security-group", "--group-name", name, "--description", "cruddur db", "--vpc-id", vpcId])
        guard group.status == 0, let groupId = group.json["GroupId"] as? String else { throw TestMotoError("create-security-group: \(group)") }
        let rule = try await aws([
            "ec2", "authorize-security-group-ingress", "--group-id", groupId, "--ip-permissions",
            "IpProtocol=tcp,FromPort=5432,ToPort=5432,IpRanges=[{CidrIp=198.51.100.1/32,Description=GITPOD}]",
        ])
        guard rule.status == 0, let rules = rule.json["SecurityGroupRules"] as? [[String: Any]],
            let ruleId = rules.first?["SecurityGroupRuleId"] as? String
        else { throw TestMotoError("authorize-security-group-ingress: \(rule)") }
        return (groupId, ruleId)
    }
}

/// This test process's scratch folder for AWS tests; the moto watchdog removes it when the process ends.
let awsTestScratchDirectory = NSTemporaryDirectory() + "cruddur-aws-tests-\(getpid())"

/// A fresh empty folder to be a child's HOME (no ~/.aws of the machine leaks in).
func makeTemporaryHome() -> String {
    let path = awsTestScratchDirectory + "/home-\(UUID().uuidString.prefix(8))"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// The test run's moto_server: started once on a free loopback port with `INITIAL_NO_AUTH_ACTION_COUNT=3`, so the
/// first three calls (create an IAM user, give it an inline policy, make its access key) go unchecked and every
/// later call must carry a valid SigV4 signature by that user. A watchdog shell stops it when the test process ends.
actor TestMoto {
    static let shared = TestMoto()

    private var starting: Task<MotoEndpoint, any Error>?
    private var watchdog: SpawnedProcess?

    func endpoint() async throws -> MotoEndpoint {
        if let starting { return try await starting.value }
        let task = Task { try await start() }
        starting = task
        return try await task.value
    }

    private func start() async throws -> MotoEndpoint {
        let port = try freePort()
        let url = "http://127.0.0.1:\(port)"
        let logPath = NSTemporaryDirectory() + "cruddur-moto-\(port).log"
        // moto runs as a child of this shell, which kills it as soon as the test process (its parent) is gone.
        let script = """
            moto_server -H 127.0.0.1 -p \(port) >"\(logPath)" 2>&1 &
            moto=$!
            trap 'kill $moto 2>/dev/null' EXIT INT TERM HUP
            while kill -0 \(getpid()) 2>/dev/null && kill -0 $moto 2>/dev/null; do sleep 0.5; done
            kill $moto 2>/dev/null
            wait $moto
            rm -rf "\(awsTestScratchDirectory)" "\(logPath)"
            """
        var environment = ProcessInfo.processInfo.environment
        environment["INITIAL_NO_AUTH_ACTION_COUNT"] = "3"
        environment["HOME"] = makeTemporaryHome()
        watchdog = try SpawnedProcess(["/bin/sh", "-c", script], environment: environment)

        guard await HTTP.waitUntilAnswering(url + "/moto-api/", timeout: .seconds(60)) else {
            throw TestMotoError("moto_server did not start on \(url): \((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "")")
        }

        // The three unauthenticated calls: a user, its inline policy (moto has no AWS-managed policies), its key.
        let bootstrap = MotoEndpoint(url: url, accessKeyId: "bootstrap", secretAccessKey: "bootstrap", vpcId: "")
        let user = "cruddur-tests"
        let policy =
            #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["rds:*","ec2:*","secretsmanager:*","kms:*","cognito-idp:*"],"Resource":"*"}]}"#
        for arguments in [
            ["iam", "create-user", "--user-name", user],
            ["iam", "put-user-policy", "--user-name", user, "--policy-name", "cruddur", "--policy-document", policy],
        ] {
            let result = try await bootstrap.aws(arguments)
            guard result.status == 0 else { throw TestMotoError("moto bootstrap \(arguments[1]): \(result)") }
        }
        let key = try await bootstrap.aws(["iam", "create-access-key", "--user-name", user])
        guard key.status == 0, let accessKey = key.json["AccessKey"] as? [String: Any],
            let id = accessKey["AccessKeyId"] as? String, let secret = accessKey["SecretAccessKey"] as? String
        else {
            throw TestMotoError("moto bootstrap create-access-key: \(key)")
        }

        let signed = MotoEndpoint(url: url, accessKeyId: id, secretAccessKey: secret, vpcId: "")
        let vpc = try await signed.aws(["ec2", "create-vpc", "--cidr-block", "10.42.0.0/16"])
        guard vpc.status == 0, let vpcId = (vpc.json["Vpc"] as? [String: Any])?["VpcId"] as? String else {
            throw TestMotoError("create-vpc: \(vpc)")
        }
        return MotoEndpoint(url: url, accessKeyId: id, secretAccessKey: secret, vpcId: vpcId)
    }
}

extension HTTP {
    /// Polls `url` until anything answers over HTTP, or the timeout passes.
    static func waitUntilAnswering(_ url: String, timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if (try? await request("GET", url)) != nil { return true }
            try? await Task.sleep(for: .milliseconds(200))
        }
        return false
    }
}
