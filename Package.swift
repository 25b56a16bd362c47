// swift-tools-version: 6.2
import PackageDescription

let package = Package(
    name: "cruddur",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "cruddur", targets: ["cruddur"]),
        .executable(name: "cruddur-post-confirmation", targets: ["cruddur-post-confirmation"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/swiftlang/swift-subprocess.git", from: "1.0.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
    ],
    targets: [
        /// Activities, users, TTLs and validation: no I/O.
        .target(name: "CruddurDomain"),
        /// Connection settings, the connection pool, migrations, repositories and their SQL. The only target
        /// that talks to PostgresNIO.
        .target(
            name: "CruddurDatabase",
            dependencies: [
                "CruddurDomain",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ]
        ),
        /// The logging set-up every executable shares (stderr, `LOG_LEVEL`).
        .target(
            name: "CruddurLogging",
            dependencies: [.product(name: "Logging", package: "swift-log")]
        ),
        /// OpenTelemetry traces over OTLP/HTTP: the `OTEL_*` settings, the tracer, W3C propagation and the exporter.
        .target(
            name: "CruddurTracing",
            dependencies: [
                "CruddurLogging",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        /// The private local PostgreSQL cluster (initdb, pg_ctl, leases, the reaper): for the CLI and the tests
        /// only, never compiled into the API's library or the Lambda.
        .target(
            name: "CruddurLocalPostgres",
            dependencies: [
                "CruddurDatabase",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Subprocess", package: "swift-subprocess"),
            ]
        ),
        /// The HTTP API: `buildApplication`, one controller per resource.
        .target(
            name: "CruddurAPI",
            dependencies: [
                "CruddurDomain",
                "CruddurDatabase",
                "CruddurAWS",
                "CruddurLogging",
                "CruddurTracing",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            /// The web page served at `/` (HTML, CSS and plain JavaScript; no build step) and the OpenAPI document
            /// served at `/api/openapi.json`.
            resources: [.copy("Web/Public"), .copy("OpenAPI/openapi.json")]
        ),
        /// AWS: SigV4 signer, Query-protocol client, RDS and EC2 calls.
        .target(
            name: "CruddurAWS",
            dependencies: [
                "CruddurDomain",
                "CruddurDatabase",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        /// The Cognito post-confirmation Lambda: the event handler and a Lambda Runtime API client.
        .target(
            name: "CruddurLambda",
            dependencies: [
                "CruddurAWS",
                "CruddurDomain",
                "CruddurDatabase",
                "CruddurTracing",
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        /// The Lambda's `bootstrap`: packaged by `cruddur lambda package`.
        .executableTarget(
            name: "cruddur-post-confirmation",
            dependencies: ["CruddurLambda", "CruddurLogging"]
        ),
        .executableTarget(
            name: "cruddur",
            dependencies: [
                "CruddurDomain",
                "CruddurDatabase",
                "CruddurLocalPostgres",
                "CruddurLogging",
                "CruddurAPI",
                "CruddurAWS",
                "CruddurLambda",
                "CruddurTracing",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "CruddurTests",
            dependencies: [
                "CruddurDomain",
                "CruddurDatabase",
                "CruddurLocalPostgres",
                "CruddurAPI",
                "CruddurAWS",
                "CruddurLambda",
                "CruddurLogging",
                "CruddurTracing",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
    ]
)
