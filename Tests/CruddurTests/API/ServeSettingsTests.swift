import CruddurAPI
import CruddurDomain
import CruddurLogging
import Testing

@Suite("Serve settings and write authentication from the environment, without a process")
struct ServeSettingsTests {
    @Test("defaults, and each variable read and validated")
    func settings() throws {
        let defaults = try ServeSettings.fromEnvironment([:])
        #expect(defaults.host == "127.0.0.1" && defaults.port == 4567 && defaults.frontendURL == "http://localhost:3000")
        #expect(defaults.feedCache && defaults.feedCacheMaxAge == .milliseconds(500))
        #expect(defaults.accessLog && defaults.logFormat == .text)
        let quiet = try ServeSettings.fromEnvironment(["ACCESS_LOG": "off", "LOG_FORMAT": "json"])
        #expect(!quiet.accessLog && quiet.logFormat == .json && quiet.metricsPort == nil)
        #expect(try ServeSettings.fromEnvironment(["METRICS_PORT": "9464"]).metricsPort == 9464)
        let set = try ServeSettings.fromEnvironment([
            "HOST": "0.0.0.0", "PORT": "8080", "FRONTEND_URL": "https://cruddur.example/", "FEED_CACHE": "off", "FEED_CACHE_MAX_AGE_MS": "250",
        ])
        #expect(
            set.host == "0.0.0.0" && set.port == 8080 && set.frontendURL == "https://cruddur.example" && !set.feedCache
                && set.feedCacheMaxAge == .milliseconds(250))
    }

    @Test("the replica's lag bound: what the 1 s budget leaves after the feed cache, or READ_REPLICA_MAX_LAG within it")
    func replicaLagBound() throws {
        #expect(try ServeSettings.fromEnvironment([:]).effectiveReadReplicaMaxLag == .milliseconds(500))
        #expect(try ServeSettings.fromEnvironment(["FEED_CACHE_MAX_AGE_MS": "200"]).effectiveReadReplicaMaxLag == .milliseconds(800))
        #expect(try ServeSettings.fromEnvironment(["FEED_CACHE": "off"]).effectiveReadReplicaMaxLag == .seconds(1))
        #expect(try ServeSettings.fromEnvironment(["READ_REPLICA_MAX_LAG": "250ms"]).effectiveReadReplicaMaxLag == .milliseconds(250))
        #expect(
            try ServeSettings.fromEnvironment(["READ_REPLICA_MAX_LAG": "900", "FEED_CACHE": "off"]).effectiveReadReplicaMaxLag
                == .milliseconds(900))
    }

    @Test(
        "bad values are one clear error naming the variable",
        arguments: [
            ["PORT": "70000"], ["PORT": "http"], ["HOST": "a b"], ["HOST": "x;rm"], ["FEED_CACHE": "maybe"], ["FEED_CACHE_MAX_AGE_MS": "0"],
            ["FEED_CACHE_MAX_AGE_MS": "1001"], ["FEED_CACHE_MAX_AGE_MS": "1s"], ["ACCESS_LOG": "yes"], ["LOG_FORMAT": "xml"],
            ["LOG_LEVEL": "verbose"], ["METRICS_PORT": "0"],
            ["METRICS_PORT": "4567"], ["METRICS_PORT": "x"],
            ["FRONTEND_URL": "ftp://x"], ["FRONTEND_URL": "localhost:3000"],
            ["READ_REPLICA_MAX_LAG": "0"], ["READ_REPLICA_MAX_LAG": "1s"], ["READ_REPLICA_MAX_LAG": "1001"],
            ["READ_REPLICA_MAX_LAG": "600", "FEED_CACHE_MAX_AGE_MS": "500"],
        ])
    func badSettings(environment: [String: String]) {
        #expect {
            _ = try ServeSettings.fromEnvironment(environment)
        } throws: { error in
            let text = "\(error)"
            return error is ConfigurationError && environment.keys.allSatisfy(text.contains) && !text.contains("\n")
        }
    }

    @Test("Cognito settings: none, complete, and each inconsistency refused")
    func cognito() throws {
        #expect(try WriteAuthentication.cognitoSettings([:]) == nil)
        #expect(try WriteAuthentication.cognitoSettings(["AWS_COGNITO_USER_POOL_ID": "", "AWS_COGNITO_USER_POOL_CLIENT_ID": ""]) == nil)
        let settings = try #require(
            try WriteAuthentication.cognitoSettings([
                "AWS_COGNITO_USER_POOL_ID": "us-east-1_AbCdEf123", "AWS_COGNITO_USER_POOL_CLIENT_ID": "abc123def456",
            ]))
        #expect(settings.region == "us-east-1" && settings.clientID == "abc123def456")
        for jwks in ["http://127.0.0.1:9000/jwks.json", "https://keys.example/jwks.json"] {
            let overridden = try WriteAuthentication.cognitoSettings([
                "AWS_COGNITO_USER_POOL_ID": "us-east-1_AbCdEf123", "AWS_COGNITO_USER_POOL_CLIENT_ID": "abc123", "COGNITO_JWKS_URL": jwks,
            ])
            #expect(overridden?.jwksURL == jwks)
        }
        for environment in [
            ["AWS_COGNITO_USER_POOL_CLIENT_ID": "abc123"],
            ["AWS_COGNITO_USER_POOL_ID": "us-east-1_AbCdEf123"],
            ["AWS_COGNITO_USER_POOL_ID": "not a pool", "AWS_COGNITO_USER_POOL_CLIENT_ID": "abc123"],
            ["AWS_COGNITO_USER_POOL_ID": "us-east-1_AbCdEf123", "AWS_COGNITO_USER_POOL_CLIENT_ID": "abc-123!"],
            ["AWS_COGNITO_USER_POOL_ID": "us-east-1_AbCdEf123", "AWS_COGNITO_USER_POOL_CLIENT_ID": "abc123", "AWS_DEFAULT_REGION": "eu-west-1"],
            [
                "AWS_COGNITO_USER_POOL_ID": "us-east-1_AbCdEf123", "AWS_COGNITO_USER_POOL_CLIENT_ID": "abc123",
                "COGNITO_JWKS_URL": "file:///etc/passwd",
            ],
            // Plain http only to loopback: the keys that decide who may post must not travel in clear text.
            [
                "AWS_COGNITO_USER_POOL_ID": "us-east-1_AbCdEf123", "AWS_COGNITO_USER_POOL_CLIENT_ID": "abc123",
                "COGNITO_JWKS_URL": "http://keys.example/.well-known/jwks.json",
            ],
        ] {
            #expect(throws: ConfigurationError.self, "\(environment)") { try WriteAuthentication.cognitoSettings(environment) }
        }
    }

    @Test("local development mode is refused on a non-loopback host unless explicitly allowed")
    func unsafeBinding() throws {
        for host in ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"] {
            #expect(LoopbackHost.contains(host), "\(host)")
            try WriteAuthentication.refuseUnsafeBinding(APIConfiguration(host: host), allowUnauthenticatedWrites: false)
        }
        for host in ["0.0.0.0", "::", "192.0.2.10", "example.com", "128.0.0.1"] {
            #expect(!LoopbackHost.contains(host), "\(host)")
            #expect(throws: ConfigurationError.self) {
                try WriteAuthentication.refuseUnsafeBinding(APIConfiguration(host: host), allowUnauthenticatedWrites: false)
            }
            try WriteAuthentication.refuseUnsafeBinding(APIConfiguration(host: host), allowUnauthenticatedWrites: true)
        }
    }
}
