import CruddurAWS
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// Retries need an endpoint that throttles on demand, which moto cannot do: a small stand-in on loopback answers
/// with AWS's throttling error first and a real-shaped answer after.
@Suite("AWS client retries read-only calls on throttling and 5xx, and nothing else")
struct AWSClientRetryTests {
    actor Calls {
        var count = 0
        func next() -> Int {
            count += 1
            return count
        }
    }

    static let throttled = """
        <ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>\
        <RequestId>req-throttled</RequestId></ErrorResponse>
        """
    static let described = """
        <DescribeDBInstancesResponse><DescribeDBInstancesResult><DBInstances><DBInstance>\
        <DBInstanceIdentifier>retry-db</DBInstanceIdentifier><DBInstanceStatus>available</DBInstanceStatus><Engine>postgres</Engine>\
        </DBInstance></DBInstances></DescribeDBInstancesResult><ResponseMetadata><RequestId>req-ok</RequestId></ResponseMetadata>\
        </DescribeDBInstancesResponse>
        """

    /// Runs `body` against a stand-in that throttles the first `failures` calls.
    func withThrottlingEndpoint(failures: Int, _ body: @escaping @Sendable (AWSClient, Calls) async throws -> Void) async throws {
        let calls = Calls()
        let router = Router()
        router.post("/") { _, _ -> Response in
            let number = await calls.next()
            let (status, xml): (HTTPResponse.Status, String) = number <= failures ? (.serviceUnavailable, Self.throttled) : (.ok, Self.described)
            return Response(status: status, headers: [.contentType: "text/xml"], body: .init(byteBuffer: ByteBuffer(string: xml)))
        }
        try await Application(router: router).test(.live) { client in
            let port = try #require(client.port)
            let configuration = AWSConfiguration(
                credentials: AWSCredentials(accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret"), region: "us-east-1",
                endpointOverride: URL(string: "http://127.0.0.1:\(port)")
            )
            try await body(AWSClient(configuration: configuration, timeout: .seconds(5)), calls)
        }
    }

    @Test("a throttled DescribeDBInstances is retried and succeeds")
    func readRetried() async throws {
        try await withThrottlingEndpoint(failures: 2) { client, calls in
            let instance = try await RDSClient(client).describeDBInstance("retry-db")
            #expect(instance.status == "available")
            #expect(await calls.count == 3)
        }
    }

    @Test("after three throttled tries the Throttling error comes through, typed")
    func givesUp() async throws {
        try await withThrottlingEndpoint(failures: 10) { client, calls in
            let error = await #expect(throws: AWSError.self) { try await RDSClient(client).describeDBInstance("retry-db") }
            #expect(error?.code == "Throttling")
            #expect(error?.isTransient == true)
            #expect(await calls.count == AWSClient.attemptsForReads)
        }
    }

    @Test("a call that changes something (StopDBInstance) is never repeated")
    func writesNotRetried() async throws {
        try await withThrottlingEndpoint(failures: 1) { client, calls in
            let error = await #expect(throws: AWSError.self) { try await RDSClient(client).stopDBInstance("retry-db") }
            #expect(error?.code == "Throttling")
            #expect(await calls.count == 1)
        }
    }
}
