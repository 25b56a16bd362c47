import CruddurAWS
import Foundation
import Testing

@Suite("AWS configuration: credentials, region and endpoint as the AWS CLI resolves them")
final class AWSConfigurationTests {
    private var folders: [String] = []

    deinit {
        for folder in folders { try? FileManager.default.removeItem(atPath: folder) }
    }

    /// A HOME that does not exist: no profile files at all.
    let emptyHome = "/nonexistent/cruddur-home"

    /// A HOME with ~/.aws/credentials and ~/.aws/config, removed when the suite value goes.
    func home(credentials: String = "", config: String = "") throws -> String {
        let home = NSTemporaryDirectory() + "cruddur-aws-config-\(UUID().uuidString.prefix(8))"
        folders.append(home)
        try FileManager.default.createDirectory(atPath: home + "/.aws", withIntermediateDirectories: true)
        try credentials.write(toFile: home + "/.aws/credentials", atomically: true, encoding: .utf8)
        try config.write(toFile: home + "/.aws/config", atomically: true, encoding: .utf8)
        return home
    }

    static let files = (
        credentials: """
        [default]
        aws_access_key_id = AKIADEFAULT
        aws_secret_access_key = default-secret

        [cruddur]
        aws_access_key_id=AKIACRUDDUR
        aws_secret_access_key=cruddur-secret
        aws_session_token = cruddur-token
        """,
        config: """
        [default]
        region = eu-west-1

        [profile cruddur]
        region = ca-central-1
        output = json

        [profile sso]
        sso_session = corp
        region = us-west-2
        """
    )

    @Test("environment keys win over the default profile; AWS_REGION over AWS_DEFAULT_REGION over the profile")
    func environmentFirst() throws {
        let home = try home(credentials: Self.files.credentials, config: Self.files.config)
        let configuration = try AWSConfiguration.resolve(environment: [
            "HOME": home, "AWS_ACCESS_KEY_ID": "AKIAENV", "AWS_SECRET_ACCESS_KEY": "env-secret", "AWS_SESSION_TOKEN": "env-token",
            "AWS_REGION": "us-east-2", "AWS_DEFAULT_REGION": "us-west-1",
        ])
        #expect(configuration.credentials?.accessKeyId == "AKIAENV")
        #expect(configuration.credentials?.secretAccessKey == "env-secret")
        #expect(configuration.credentials?.sessionToken == "env-token")
        #expect(configuration.region == "us-east-2")
        #expect(configuration.endpointOverride == nil)
        #expect(configuration.endpoint(for: "rds").absoluteString == "https://rds.us-east-2.amazonaws.com")
        let defaultRegion = try AWSConfiguration.resolve(environment: ["HOME": home, "AWS_DEFAULT_REGION": "us-west-1"])
        #expect(defaultRegion.region == "us-west-1")
        #expect(defaultRegion.credentials?.accessKeyId == "AKIADEFAULT")
    }

    @Test("the default profile and its region come from ~/.aws when nothing is in the environment")
    func defaultProfile() throws {
        let configuration = try AWSConfiguration.resolve(environment: [
            "HOME": try home(credentials: Self.files.credentials, config: Self.files.config)
        ])
        #expect(configuration.credentials?.accessKeyId == "AKIADEFAULT")
        #expect(configuration.credentials?.sessionToken == nil)
        #expect(configuration.region == "eu-west-1")
    }

    @Test("AWS_PROFILE or --profile picks a profile; --profile beats keys in the environment")
    func namedProfile() throws {
        let home = try home(credentials: Self.files.credentials, config: Self.files.config)
        let fromVariable = try AWSConfiguration.resolve(environment: ["HOME": home, "AWS_PROFILE": "cruddur"])
        #expect(fromVariable.credentials?.accessKeyId == "AKIACRUDDUR")
        #expect(fromVariable.credentials?.sessionToken == "cruddur-token")
        #expect(fromVariable.region == "ca-central-1")
        let explicit = try AWSConfiguration.resolve(
            region: "ap-south-1", profile: "cruddur",
            environment: ["HOME": home, "AWS_ACCESS_KEY_ID": "AKIAENV", "AWS_SECRET_ACCESS_KEY": "env-secret"]
        )
        #expect(explicit.credentials?.accessKeyId == "AKIACRUDDUR")
        #expect(explicit.region == "ap-south-1")
    }

    @Test("AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE move the files; keys may sit in the config file")
    func movedFiles() throws {
        let folder = try home()
        try "[profile x]\naws_access_key_id = AKIACONFIG\naws_secret_access_key = config-secret\nregion = sa-east-1\n"
            .write(toFile: folder + "/conf", atomically: true, encoding: .utf8)
        let configuration = try AWSConfiguration.resolve(environment: [
            "HOME": emptyHome, "AWS_CONFIG_FILE": folder + "/conf", "AWS_SHARED_CREDENTIALS_FILE": folder + "/missing", "AWS_PROFILE": "x",
        ])
        #expect(configuration.credentials?.accessKeyId == "AKIACONFIG")
        #expect(configuration.region == "sa-east-1")
    }

    @Test("AWS_ENDPOINT_URL or --endpoint-url sends every service there; malformed ones are refused")
    func endpoint() throws {
        let environment = ["HOME": emptyHome, "AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b", "AWS_REGION": "us-east-1"]
        let fromVariable = try AWSConfiguration.resolve(environment: environment.merging(["AWS_ENDPOINT_URL": "http://127.0.0.1:5000"]) { $1 })
        #expect(fromVariable.endpoint(for: "ec2").absoluteString == "http://127.0.0.1:5000")
        let explicit = try AWSConfiguration.resolve(endpointURL: "https://example.test", environment: environment)
        #expect(explicit.endpoint(for: "rds").absoluteString == "https://example.test")
        for bad in ["ftp://x", "127.0.0.1:5000", "http://user:pw@host"] {
            #expect(throws: AWSError.self) { try AWSConfiguration.resolve(endpointURL: bad, environment: environment) }
        }
    }

    @Test("plain http is accepted only for a loopback endpoint; anywhere else it is one line naming the variable")
    func plainHTTPOnlyOnLoopback() throws {
        let environment = ["HOME": emptyHome, "AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b", "AWS_REGION": "us-east-1"]
        for local in ["http://127.0.0.1:5000", "http://localhost:4566", "http://[::1]:5000", "https://rds.internal.example"] {
            #expect(throws: Never.self, "\(local)") { try AWSConfiguration.resolve(endpointURL: local, environment: environment) }
        }
        for remote in ["http://moto.internal.example:5000", "http://10.0.0.5:5000", "HTTP://192.0.2.1"] {
            let fromVariable = #expect(throws: AWSError.self) {
                try AWSConfiguration.resolve(environment: environment.merging(["AWS_ENDPOINT_URL": remote]) { $1 })
            }
            #expect("\(fromVariable.map { "\($0)" } ?? "")".contains("AWS_ENDPOINT_URL must be https://"), "\(remote)")
            let fromOption = #expect(throws: AWSError.self) { try AWSConfiguration.resolve(endpointURL: remote, environment: environment) }
            #expect("\(fromOption.map { "\($0)" } ?? "")".contains("--endpoint-url must be https://"), "\(remote)")
        }
    }

    @Test("missing or half-set credentials, unknown profiles, SSO profiles and missing regions are clear errors without secrets")
    func failures() throws {
        let home = try home(credentials: Self.files.credentials, config: Self.files.config)
        func message(_ environment: [String: String], profile: String? = nil, region: String? = nil) -> String {
            do {
                _ = try AWSConfiguration.resolve(region: region, profile: profile, environment: environment)
                return "no error"
            } catch {
                return String(describing: error)
            }
        }
        #expect(message(["HOME": emptyHome, "AWS_REGION": "us-east-1"]).contains("no AWS credentials"))
        let half = message(["HOME": home, "AWS_SECRET_ACCESS_KEY": "half-secret"])
        #expect(half.contains("must be set together"))
        #expect(!half.contains("half-secret"))
        #expect(message(["HOME": home, "AWS_PROFILE": "nope"]).contains("'nope' is in neither"))
        #expect(message(["HOME": home], profile: "sso").contains("sso_session"))
        #expect(message(["HOME": emptyHome, "AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"]).contains("no AWS region"))
        #expect(message(["HOME": home], region: "Not A Region").contains("not an AWS region"))
        #expect(!message(["HOME": home, "AWS_PROFILE": "nope"]).contains("cruddur-secret"))
    }
}

@Suite("IP ranges for security-group rules")
struct IPRangeTests {
    @Test("addresses become single-host ranges; CIDRs are checked")
    func parsing() throws {
        #expect(try IPRange("203.0.113.7").description == "203.0.113.7/32")
        #expect(try IPRange(" 203.0.113.7/32\n").isSingleHost)
        #expect(try IPRange("2001:DB8::1").description == "2001:db8::1/128")
        #expect(try IPRange("0.0.0.0/0").isEverywhere)
        #expect(try IPRange("10.0.0.0/8").isSingleHost == false)
        for bad in ["", "999.1.1.1", "1.2.3", "1.2.3.4/33", "1.2.3.4/-1", "10.0.0.1/8", "example.com", "1.2.3.4/32/1", "::/129"] {
            #expect(throws: IPRange.ParseError.self, "\(bad)") { try IPRange(bad) }
        }
    }
}

@Suite("AWS error documents")
struct AWSErrorTests {
    @Test("auth failures are recognised and explained; descriptions are one line")
    func authFailure() {
        let error = AWSError.service(
            .init(
                service: "rds", action: "DescribeDBInstances", code: "SignatureDoesNotMatch",
                message: "The request signature we calculated does not match", requestId: "abc", httpStatus: 403
            ))
        #expect(error.isAuthFailure)
        #expect(error.code == "SignatureDoesNotMatch")
        let text = String(describing: error)
        #expect(text.contains("SignatureDoesNotMatch") && text.contains("HTTP 403") && text.contains("request id abc"))
        #expect(!text.contains("\n"))
        let notFound = AWSError.service(.init(service: "rds", action: "x", code: "DBInstanceNotFound", message: "m", requestId: nil, httpStatus: 404))
        #expect(!notFound.isAuthFailure)
    }

    @Test("XML documents parse into a tree with lists and nested values")
    func xml() throws {
        let document = try #require(
            XMLTree.parse(
                Data(
                    """
                    <ErrorResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><Error><Type>Sender</Type><Code>DBInstanceNotFound</Code>\
                    <Message>DBInstance x not found.</Message></Error><RequestId>r-1</RequestId></ErrorResponse>
                    """.utf8)))
        #expect(document.first("Error")?.string("Code") == "DBInstanceNotFound")
        #expect(document.first("RequestId")?.text == "r-1")
        #expect(XMLTree.parse(Data("<unclosed>".utf8)) == nil)
    }

    @Test("XML: declaration, comments, entities, CDATA, attributes, self-closing elements and lists")
    func xmlDetails() throws {
        let document = try #require(
            XMLTree.parse(
                Data(
                    """
                    \u{FEFF}<?xml version="1.0" encoding="UTF-8"?>
                    <!-- a comment -->
                    <DescribeDBInstancesResponse xmlns='http://rds.amazonaws.com/doc/2014-10-31/'>
                      <DBInstances>
                        <DBInstance><DBInstanceIdentifier>a&amp;b &lt;c&gt; &quot;d&quot; &apos;e&apos; &#233;&#x1F600;</DBInstanceIdentifier></DBInstance>
                        <DBInstance><DBInstanceIdentifier><![CDATA[<raw> & text]]></DBInstanceIdentifier><Empty/><Other a="1" b = '2' /></DBInstance>
                      </DBInstances>
                    </DescribeDBInstancesResponse>
                    <!-- trailing -->
                    """.utf8)))
        let instances = try #require(document.child("DBInstances")).children(named: "DBInstance")
        #expect(instances.count == 2)
        #expect(instances[0].string("DBInstanceIdentifier") == "a&b <c> \"d\" 'e' é😀")
        #expect(instances[1].string("DBInstanceIdentifier") == "<raw> & text")
        #expect(instances[1].child("Empty") != nil && instances[1].string("Empty") == nil)
        #expect(instances[1].child("Other") != nil)
    }

    @Test(
        "XML: malformed documents and DTDs are refused",
        arguments: [
            "", "   ", "text only", "<a></b>", "<a><b></a></b>", "<a>&unknown;</a>", "<a>&amp</a>", "<a/><b/>", "<a></a>trailing",
            "<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>", "<a attr=unquoted></a>", "<a><!-- unterminated </a>", "</a>", "<a>&#xFFFFFFFF;</a>",
        ])
    func xmlMalformed(document: String) {
        #expect(XMLTree.parse(Data(document.utf8)) == nil)
    }

    @Test("XML: deep nesting is refused, not a stack overflow")
    func xmlDepth() {
        let deep = String(repeating: "<a>", count: 100_000) + String(repeating: "</a>", count: 100_000)
        #expect(XMLTree.parse(Data(deep.utf8)) == nil)
    }
}
