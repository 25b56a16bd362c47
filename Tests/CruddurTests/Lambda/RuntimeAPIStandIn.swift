import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore

/// A small stand-in for the Lambda Runtime API on loopback: serves queued events one at a time and records
/// what the function sends back. `next` waits while the queue is empty; after ``finish()`` it answers `410`.
actor RuntimeAPIStandIn {
    struct Report: Equatable {
        let requestID: String
        /// `response`, `error` or `init/error`.
        let kind: String
        let body: [UInt8]
        let errorTypeHeader: String?
        /// From handing the event out to receiving this report.
        let latency: Duration?

        /// The error body's fields.
        var errorFields: [String: String] {
            (try? JSONSerialization.jsonObject(with: Data(body)) as? [String: String]) ?? [:]
        }
    }

    private var queue: [(String, [UInt8])] = []
    private(set) var reports: [Report] = []
    private var finished = false
    private var servedAt: [String: ContinuousClock.Instant] = [:]

    /// Queues an event; returns its request id.
    @discardableResult
    func enqueue(_ event: [UInt8]) -> String {
        let id = UUID().uuidString.lowercased()
        queue.append((id, event))
        return id
    }

    /// From now on, `next` with an empty queue answers `410 Gone`, which ends the function's loop.
    func finish() { finished = true }

    fileprivate func next() async -> (String, [UInt8])? {
        while queue.isEmpty && !finished {
            try? await Task.sleep(for: .milliseconds(10))
        }
        guard !queue.isEmpty else { return nil }
        let event = queue.removeFirst()
        servedAt[event.0] = .now
        return event
    }

    fileprivate func record(requestID: String, kind: String, body: [UInt8], errorTypeHeader: String?) {
        let latency = servedAt[requestID].map { ContinuousClock.now - $0 }
        reports.append(Report(requestID: requestID, kind: kind, body: body, errorTypeHeader: errorTypeHeader, latency: latency))
    }

    /// Waits until `count` reports arrived (or the timeout passed); returns them.
    func waitForReports(_ count: Int, timeout: Duration = .seconds(30)) async -> [Report] {
        let deadline = ContinuousClock.now + timeout
        while reports.count < count && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        return reports
    }

    /// Runs the stand-in on a free loopback port; `body` gets its `host:port`.
    func serve<Value: Sendable>(_ body: @escaping @Sendable (String) async throws -> Value) async throws -> Value {
        let router = Router()
        let base = "/2018-06-01/runtime"
        router.get("\(base)/invocation/next") { _, _ -> Response in
            guard let next = await self.next() else { return Response(status: .gone) }
            let (id, event) = next
            let deadline = Int64((Date().timeIntervalSince1970 * 1000).rounded()) + 5_000
            var headers = HTTPFields()
            headers[HTTPField.Name("Lambda-Runtime-Aws-Request-Id")!] = id
            headers[HTTPField.Name("Lambda-Runtime-Deadline-Ms")!] = String(deadline)
            headers[HTTPField.Name("Lambda-Runtime-Invoked-Function-Arn")!] =
                "arn:aws:lambda:us-east-1:123456789012:function:cruddur-post-confirmation"
            headers[.contentType] = "application/json"
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: event)))
        }
        for kind in ["response", "error"] {
            router.post("\(base)/invocation/{id}/\(kind)") { request, context -> Response in
                let id = try context.parameters.require("id")
                let body = try await request.body.collect(upTo: 8 << 20)
                await self.record(
                    requestID: id, kind: kind, body: Array(buffer: body),
                    errorTypeHeader: request.headers[HTTPField.Name("Lambda-Runtime-Function-Error-Type")!]
                )
                return Response(status: .accepted)
            }
        }
        router.post("\(base)/init/error") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 8 << 20)
            await self.record(
                requestID: "", kind: "init/error", body: Array(buffer: body),
                errorTypeHeader: request.headers[HTTPField.Name("Lambda-Runtime-Function-Error-Type")!]
            )
            return Response(status: .accepted)
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        return try await app.test(.live) { client in
            // `next` waits for events: let any pending one end before the server shuts down.
            do {
                let value = try await body("127.0.0.1:\(client.port!)")
                await self.finish()
                return value
            } catch {
                await self.finish()
                throw error
            }
        }
    }
}
