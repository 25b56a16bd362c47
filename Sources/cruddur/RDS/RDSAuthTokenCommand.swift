import ArgumentParser
import CruddurAWS
import Foundation

/// `cruddur rds auth-token`: an IAM database authentication token, as `aws rds generate-db-auth-token` prints it.
struct RDSAuthTokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "auth-token",
        abstract: "Print an IAM database authentication token (a password valid for 15 minutes).",
        discussion: """
            The token is signed locally with your AWS credentials (no AWS call is made) for the host, port and user given; \
            the region is --region, else the RDS endpoint's own, else AWS_REGION, AWS_DEFAULT_REGION or the profile's. \
            Use it as the password over TLS, e.g. PGPASSWORD="$(cruddur rds auth-token --host H --user U)" psql "host=H user=U sslmode=verify-full". \
            The service, the Lambda and `cruddur db … --prod` make their own with DB_AUTH=iam.
            """
    )

    @Option(help: ArgumentHelp("The instance's endpoint (its DNS name).", valueName: "host"))
    var host: String

    @Option(help: ArgumentHelp("The instance's port.", valueName: "port"))
    var port = 5432

    @Option(help: ArgumentHelp("The database user (one granted rds_iam).", valueName: "user"))
    var user: String

    @Option(
        help: ArgumentHelp("The AWS region (default: the endpoint's, else AWS_REGION, AWS_DEFAULT_REGION or the profile's).", valueName: "region"))
    var region: String?

    @Option(
        help: ArgumentHelp(
            "A profile of ~/.aws/credentials and ~/.aws/config (default: AWS_PROFILE, else the environment's keys).", valueName: "name"))
    var profile: String?

    func validate() throws {
        guard RDSAuthToken.isValidHost(host) else {
            throw ValidationError("--host must be a DNS name such as cruddur-db-instance.abc123.us-east-1.rds.amazonaws.com")
        }
        guard (1...65535).contains(port) else { throw ValidationError("--port must be from 1 to 65535") }
        guard RDSAuthToken.isValidUser(user) else { throw ValidationError("--user must be 1–63 bytes without control characters") }
    }

    func run() async throws {
        try await reportingFailures {
            let configuration = try AWSConfiguration.resolve(region: region ?? RDSAuthToken.region(ofEndpoint: host), profile: profile)
            let credentials = try await configuration.requireCredentials(for: "an IAM authentication token")
            print(RDSAuthToken.make(host: host, port: port, user: user, region: configuration.region, credentials: credentials, date: Date()))
        }
    }
}
