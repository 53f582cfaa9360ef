// swift-tools-version:6.0
// meshwatchd: the on-call engineer's first five minutes for a service mesh, automated.
// Module boundaries follow ../shared/DESIGN.md: each module imports only those below it.
import PackageDescription

let package = Package(
    name: "meshwatchd",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "meshwatchd", targets: ["MeshWatchd"]),
        .executable(name: "meshwatchd-demo", targets: ["MeshWatchdDemo"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        // C shims over the system libraries: typed wrappers over libcurl's variadic calls,
        // and libsystemd's sd_notify / sd_watchdog_enabled / sd_journal_sendv.
        .target(
            name: "CCurl",
            linkerSettings: [.linkedLibrary("curl")]
        ),
        // libsystemd is loaded (dlopen) only when systemd started the process: NOTIFY_SOCKET,
        // WATCHDOG_USEC, or the journal as the log's destination (its headers from libsystemd-dev).
        .target(name: "CSystemd"),
        // The loaded objects' segments from dl_iterate_phdr (a GNU extension Swift's Glibc
        // module does not declare), for releasing start-up pages.
        .target(name: "CLoader"),

        // A fixed set of threads that runs Swift's tasks and sleeps with no periodic timer:
        // the daemon's default executor (MeshWatchdCore's TaskPool).
        .target(name: "CTaskPool"),

        // snappy's block format (libsnappy), for remote-write requests.
        .systemLibrary(
            name: "CSnappy",
            pkgConfig: "snappy",
            providers: [.apt(["libsnappy-dev"])]
        ),

        // Prometheus's remote-write protocol 1.0: the protobuf WriteRequest (generated code, kept in
        // git: `make proto`), snappy-compressed, sent from a bounded queue with retries.
        .target(
            name: "RemoteWrite",
            dependencies: [
                "CSnappy",
                "MeshHTTP",
                "MetricModel",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["Proto"]
        ),

        // One small async HTTP client on libcurl, used for every HTTP call.
        .target(
            name: "MeshHTTP",
            dependencies: [
                "CCurl",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // Label sets and samples: the values PromClient decodes and AlertEngine evaluates.
        // Pure values, no I/O.
        .target(name: "MetricModel"),

        // Go's text/template as Prometheus runs it, with Prometheus's template functions: shared by
        // the alert engine and by sink message templates.
        .target(name: "GoTemplate", dependencies: ["MetricModel", "PromQL"]),

        // HMAC-SHA256 and SHA-256 over OpenSSL's libcrypto, for signed webhooks; password hashes
        // (bcrypt, yescrypt, SHA-512 crypt) over libcrypt, for the status page's users.
        .target(name: "CCrypto", linkerSettings: [.linkedLibrary("crypto"), .linkedLibrary("crypt")]),

        // Findings and their delivery to incident channels: the finding document, signed
        // webhooks, and the delivery policy (retry, backoff, Retry-After).
        .target(
            name: "Incidents",
            dependencies: [
                "CCrypto",
                "MeshHTTP",
                "MetricModel",
                "AlertModel", "GoTemplate", "PromQL",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // The Kubernetes API client, runbooks and their diagnostic steps, remediation.
        .target(
            name: "Remediation",
            dependencies: [
                "CSpawn",
                "PromQL",
                "MeshHTTP",
                "PromClient",
                "MetricModel",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "X509", package: "swift-certificates"),
            ]
        ),

        // snprintf for one double: Go's %g/%f/%e match C's for finite values.
        .target(name: "CFormat"),
        // pipe2 and posix_spawn's closefrom action, for commands spawned without Foundation.
        .target(name: "CSpawn"),

        // PromQL as Prometheus 2.42 defines it: lexer, parser with Prometheus's type checks and
        // promtool's error positions, and the printer of normalised expressions.
        .target(name: "PromQL", dependencies: ["CFormat"]),

        // The values the engine hands on and the incident side consumes: an alert instance, its
        // state and a transition. Incidents imports this, never the engine.
        .target(name: "AlertModel", dependencies: ["GoTemplate", "MetricModel"]),

        // Rule files, the built-in packs, evaluation, the alert state machine, templating,
        // snapshot and restore. Pure logic: it asks an `InstantQuerying` for samples.
        .target(
            name: "AlertEngine",
            dependencies: [
                "AlertModel",
                "GoTemplate",
                "MetricModel",
                "PromQL",
                "CFormat",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // Rule packs as data: one YAML file per mesh (Packs/*.yml, compiled in) with parameters,
        // alert rules and runbooks; packs named in the configuration are read the same way.
        .target(
            name: "MeshPacks",
            dependencies: [
                "AlertEngine", "GoTemplate", "MetricModel", "PromQL", "Remediation",
                .product(name: "Yams", package: "Yams"),
            ],
            resources: [.embedInCode("Packs/istio.yml"), .embedInCode("Packs/linkerd.yml"), .embedInCode("Packs/cilium.yml")]
        ),

        // `meshwatchd analyze`: the troubleshooting guide's configuration mistakes, checked on a
        // read-only snapshot of the Kubernetes API.
        .target(name: "MeshAnalysis", dependencies: ["MetricModel", "Remediation"]),

        // The Prometheus HTTP API: queries, the response model and its fast decoder.
        .target(
            name: "PromClient",
            dependencies: [
                "MetricModel",
                "MeshHTTP",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // What tests need and nothing more: captured log entries and a manual wall clock.
        .target(
            name: "MeshTestKit",
            dependencies: [.product(name: "Logging", package: "swift-log")]
        ),

        // Synthetic Istio series, a real Prometheus over them, and the JSONDecoder reference
        // model. Used by the tests, the benchmark and the demo.
        .target(
            name: "MeshFixtures",
            dependencies: [
                "MetricModel",
                "MeshHTTP",
                "PromClient",
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.copy("Resources/testserver.py"), .copy("Resources/kubeapi.py"), .copy("Resources/faultproxy.py")]
        ),

        // Everything the meshwatchd binary does (commands, typed configuration, wiring, the
        // group cycle and its loop, the SQLite stores, status, logging), as a library so that
        // the daemon and the demo share it and the daemon links no test fixtures.
        .target(
            name: "MeshWatchdCore",
            dependencies: [
                "CCrypto",
                "CLoader",
                "CSystemd",
                "CTaskPool",
                "PromQL",
                "Incidents",
                "Remediation",
                "MeshPacks",
                "MeshAnalysis",
                "RemoteWrite",
                "MetricModel",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Yams", package: "Yams"),
                "AlertEngine", "GoTemplate",
                "MeshHTTP",
                "PromClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // The daemon and its one-shot commands: `meshwatchd`.
        .executableTarget(
            name: "MeshWatchd",
            dependencies: [
                "MeshWatchdCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            exclude: ["read-only-data.ld", "hot-functions.order"],
            // lld packs the ~140,000 relative relocations of a position-independent Swift binary
            // into a few kilobytes (DT_RELR, glibc 2.36: Debian 12): the loader no longer reads
            // 3 MB of them at each start, and the read-only data gets a segment of its own,
            // which `StartupPages` can release (gold puts it among the writable data).
            // read-only-data.ld keeps `.rodata` read-only although Swift marks some of its
            // constants writable (the file says how).
            // In release builds the functions a running daemon uses come first in `.text`, in the
            // order of hot-functions.order (scripts/hot-functions.sh makes it; with `make bench`'s
            // function sections, every function can move), so its cycles touch a few megabytes of
            // code, not pages all over the binary; the constants the cycles read come first in the
            // read-only constants, then the runtime's conformance descriptors, which a conformance
            // lookup reads all of. A name not in the binary is skipped.
            // scripts/hot-functions.sh links the binary it profiles without packed relocations
            // and without read-only-data.ld (MESHWATCHD_PROFILE_LINK): Debian's valgrind 3.19
            // cannot load a binary with either.
            // Every symbol bound at load (-z now: full RELRO, the GOT read-only too), and none of
            // the executable's own exported (the toolchain's static-stdlib link asks for
            // --export-dynamic: 48,000 symbols in the dynamic table). Each later lookup (a lazy
            // binding of the executable's or a library's, a dlsym) searches the executable's table
            // first, and touched its 370 KB hash table and 4 MB of symbols and names long after
            // start-up's pages were released. Nothing looks up the executable's symbols by name.
            linkerSettings: [
                .unsafeFlags(["-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "now", "-Xlinker", "--no-export-dynamic"]
                    + (Context.environment["MESHWATCHD_PROFILE_LINK"] != nil ? [] : [
                    "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs",
                    "-Xlinker", "-T", "-Xlinker", Context.packageDirectory + "/Sources/MeshWatchd/read-only-data.ld",
                ])),
                .unsafeFlags(["-Xlinker", "--symbol-ordering-file=" + Context.packageDirectory + "/Sources/MeshWatchd/hot-functions.order",
                              "-Xlinker", "--no-warn-symbol-ordering"], .when(configuration: .release)),
            ]
        ),

        // `meshwatchd-demo` (`make run`): a generated incident through the whole pipeline, on the
        // test fixtures (a real Prometheus, the Kubernetes double, a receiver).
        .executableTarget(
            name: "MeshWatchdDemo",
            dependencies: [
                "MeshWatchdCore",
                "MeshFixtures",
                "AlertEngine", "GoTemplate",
                "Incidents",
                "MeshHTTP",
                "MetricModel",
                "PromClient",
                "Remediation",
                "MeshPacks",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // `make bench`: decode throughput against Foundation's JSONDecoder and Python's json.
        .executableTarget(
            name: "MeshBench",
            dependencies: ["MetricModel", "AlertEngine", "GoTemplate", "PromClient", "MeshFixtures", "MeshPacks"]
        ),

        .testTarget(
            name: "MeshHTTPTests",
            dependencies: ["CCurl", "MeshHTTP", "MeshFixtures", "MeshTestKit", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "RemediationTests",
            dependencies: ["Remediation", "MeshPacks", "PromQL", "MeshHTTP", "MetricModel", "MeshFixtures", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "IncidentsTests",
            dependencies: ["Incidents", "AlertModel", "GoTemplate", "MetricModel", "MeshHTTP", "MeshFixtures"]
        ),
        .testTarget(
            name: "PromQLTests",
            dependencies: ["PromQL", "AlertEngine", "GoTemplate", "MeshFixtures", "MeshHTTP", "MeshPacks"],
            resources: [.copy("Resources")]
        ),
        .testTarget(
            name: "AlertEngineTests",
            dependencies: ["AlertEngine", "GoTemplate", "MetricModel", "MeshTestKit", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "MeshWatchdTests",
            dependencies: ["MeshWatchdCore", "MeshTestKit", "Incidents", "MetricModel", "AlertEngine", "GoTemplate", "PromClient", "MeshHTTP",
                           "MeshFixtures", "Remediation", "RemoteWrite", "MeshPacks", "MeshAnalysis",
                           .product(name: "Yams", package: "Yams"), .product(name: "GRDB", package: "GRDB.swift")],
            resources: [.copy("Resources")]
        ),
        .testTarget(
            name: "PromClientTests",
            dependencies: ["MetricModel", "PromClient", "MeshHTTP", "MeshFixtures"],
            resources: [.copy("Resources")]
        ),
    ]
)
