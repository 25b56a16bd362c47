import CruddurDatabase
import Foundation
import Testing

@testable import CruddurLocalPostgres

@Suite("The local cluster manager")
struct LocalClusterTests {
    @Test("the last leaseholder stops the server; a crashed holder is reaped; throwaway folders are removed")
    func leases() async throws {
        let cluster = try await LocalCluster.temporary(label: "lease-test")
        let lease = try await cluster.acquire(logger: TestPostgres.logger)
        #expect(try await cluster.isRunning())
        #expect(FileManager.default.fileExists(atPath: cluster.layout.socketDirectory + "/.s.PGSQL.5432"))

        // Another process holds a lease too: our release leaves the server running.
        let other = try ChildProcess("/bin/sleep", ["60"], environment: [:])
        FileManager.default.createFile(atPath: cluster.layout.stateDirectory + "/leases/\(other.pid)", contents: nil)
        await lease.release(logger: TestPostgres.logger)
        #expect(try await cluster.isRunning())

        // That process dies without releasing: the reaper stops the server and removes the folder.
        other.signal(SIGKILL)
        #expect(await other.waitForExit(timeout: .seconds(5)) != nil)
        let deadline = ContinuousClock.now + .seconds(20)
        while FileManager.default.fileExists(atPath: cluster.layout.stateDirectory), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(!FileManager.default.fileExists(atPath: cluster.layout.stateDirectory))
    }

    @Test("migrations apply once, record themselves, and roll back")
    func migrations() async throws {
        let settings = try await TestPostgres.shared.makeEmptyDatabase()
        try await withTestConnection(settings) { connection in
            let runner = MigrationRunner(logger: TestPostgres.logger)
            #expect(try await runner.pending(on: connection).count == Migration.all.count)
            #expect(try await runner.migrate(on: connection).count == Migration.all.count)
            #expect(try await runner.migrate(on: connection).isEmpty)
            #expect(try await runner.pending(on: connection).isEmpty)
            let reverted = try await runner.rollback(steps: Migration.all.count, on: connection)
            #expect(reverted.map(\.version) == Migration.all.map(\.version).reversed())
            let tables = try await connection.query("SELECT to_regclass('public.activities') IS NULL", logger: TestPostgres.logger).collect()
            #expect(try tables[0].decode(Bool.self))
            #expect(try await runner.migrate(on: connection).count == Migration.all.count)
        }
    }

    @Test("the schema holds the design's corrections")
    func schema() async throws {
        let settings = try await TestPostgres.shared.makeDatabase(seeded: true)
        try await withTestConnection(settings) { connection in
            let logger = TestPostgres.logger
            let types = try await connection.query(
                """
                SELECT column_name || ':' || data_type || ':' || is_nullable FROM information_schema.columns
                WHERE table_schema = 'public' AND table_name IN ('users', 'activities')
                """, logger: logger
            ).collect().map { try $0.decode(String.self) }
            #expect(types.contains("reply_to_activity_uuid:uuid:YES"))
            #expect(types.contains("created_at:timestamp with time zone:NO"))
            #expect(types.contains("replies_count:integer:NO"))
            // Unique handle, unique Cognito id where present, foreign key to users.
            await #expect(throws: (any Error).self) {
                try await connection.query("INSERT INTO public.users (display_name, handle, email) VALUES ('x', 'bayko', 'x@x')", logger: logger)
                    .collect()
            }
            await #expect(throws: (any Error).self) {
                try await connection.query(
                    "INSERT INTO public.users (display_name, handle, email, cognito_user_id) VALUES ('x', 'x1', 'x@x', 'MOCK-bayko')", logger: logger
                ).collect()
            }
            try await connection.query(
                "INSERT INTO public.users (display_name, handle, email, cognito_user_id) VALUES ('x', 'x2', 'x@x', NULL), ('y', 'y2', 'y@y', NULL)",
                logger: logger
            ).collect()
            await #expect(throws: (any Error).self) {
                try await connection.query(
                    "INSERT INTO public.activities (user_uuid, message, expires_at) VALUES (gen_random_uuid(), 'x', now())", logger: logger
                ).collect()
            }
        }
    }

    @Test("seed data loads idempotently")
    func seedTwice() async throws {
        let settings = try await TestPostgres.shared.makeDatabase(seeded: true)
        try await withTestConnection(settings) { connection in
            try await SeedData.load(on: connection, logger: TestPostgres.logger)
            let rows = try await connection.query(
                "SELECT (SELECT count(*) FROM public.users)::int8, (SELECT count(*) FROM public.activities)::int8", logger: TestPostgres.logger
            ).collect()
            let (users, activities) = try rows[0].decode((Int64, Int64).self)
            #expect(users == 2 && activities == 1)
        }
    }
}

@Suite("Spawned processes")
struct SpawnedProcessTests {
    @Test("a spawned child (the reaper) inherits none of our descriptors, even ones without close-on-exec")
    func noInheritedDescriptors() throws {
        let leaked = open("/dev/null", O_RDONLY)
        try #require(leaked > 2)
        defer { close(leaked) }
        let output = NSTemporaryDirectory() + "cruddur-fds-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: output) }
        let child = try SpawnedProcess(["/bin/sh", "-c", #"for f in /proc/$$/fd/*; do echo "${f##*/}"; done"#], outputPath: output)
        #expect(child.wait() == 0)
        let descriptors = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n").compactMap { Int32($0) }
        #expect(descriptors.contains(1))
        #expect(!descriptors.contains(leaked), "the child had \(descriptors)")
        #expect(descriptors.allSatisfy { $0 <= 3 }, "the child had \(descriptors)")
    }
}
