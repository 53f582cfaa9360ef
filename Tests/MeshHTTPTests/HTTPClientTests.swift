import CCurl
import Foundation
import MeshFixtures
@testable import MeshHTTP
import Testing

@Suite("HTTPClient against a loopback server")
struct HTTPClientTests {
    @Test("GET sends configured and per-request headers and returns status, headers and body")
    func getWithHeaders() async throws {
        try await withTestServer { server async throws in
            let client = HTTPClient(configuration: .init(headers: [("X-Scope-OrgID", "tenant-a")]))
            let response = try await client.execute(HTTPRequest(url: server.url("/echo?x=1"), headers: [("X-Request", "42")]))
            #expect(response.status == 200)
            #expect(response.header("x-test") == "yes")
            let echo = try Echo(response.body)
            #expect(echo.method == "GET")
            #expect(echo.path == "/echo?x=1")
            #expect(echo.headers["x-scope-orgid"] == "tenant-a")
            #expect(echo.headers["x-request"] == "42")
            #expect(echo.headers["user-agent"] == "meshwatchd")
        }
    }

    @Test("POST form and JSON bodies arrive intact, with no Expect: 100-continue delay")
    func postBodies() async throws {
        try await withTestServer { server async throws in
            let client = HTTPClient()
            let query = "sum by (destination_service) (rate(istio_requests_total{response_code=~\"5..\"}[5m])) & more"
            let form = try Echo(try await client.execute(.form(url: server.url("/echo"), fields: [("query", query), ("time", "1700000000")])).body)
            #expect(form.method == "POST")
            #expect(form.headers["content-type"] == "application/x-www-form-urlencoded")
            #expect(form.headers["expect"] == nil)
            let decoded = URLComponents(string: "http://x/?" + form.body)?.queryItems
            #expect(decoded?.first { $0.name == "query" }?.value == query)
            #expect(decoded?.first { $0.name == "time" }?.value == "1700000000")

            let large = "{\"data\":\"" + String(repeating: "é", count: 5000) + "\"}"
            let json = try Echo(try await client.execute(.json(method: .patch, url: server.url("/echo"), body: Array(large.utf8))).body)
            #expect(json.method == "PATCH")
            #expect(json.headers["content-type"] == "application/json")
            #expect(json.body == large)
        }
    }

    @Test("sequential requests reuse one kept-alive connection")
    func connectionReuse() async throws {
        try await withTestServer { server async throws in
            let client = HTTPClient()
            var ports: Set<Int> = []
            for _ in 0..<5 { ports.insert(try Echo(try await client.get(server.url("/echo")).body).clientPort) }
            #expect(ports.count == 1)
        }
    }

    @Test("transfers in flight leave Swift's cooperative pool free")
    func doesNotBlockCooperativePool() async throws {
        try await withTestServer { server async throws in
            let client = HTTPClient()
            // More slow transfers than the pool has threads: a blocking client would stall the
            // quick request behind them.
            let slow = (0..<6).map { _ in Task { try await client.get(server.url("/slow?ms=15000")) } }
            try await Task.sleep(for: .milliseconds(200))
            let quickStart = ContinuousClock.now
            _ = try await client.get(server.url("/echo"))
            let quick = ContinuousClock.now - quickStart
            for task in slow { #expect(try await task.value.status == 200) }
            // Behind six blocking 15 s transfers on a two-thread pool it would wait 45 s; a busy
            // machine slows the quick one by seconds, not by tens of them.
            #expect(quick < .seconds(25), "a quick request waited \(quick) behind slow ones")
        }
    }

    @Test("the total timeout ends a transfer to a server that never answers")
    func timeout() async throws {
        try await withTestServer { server async throws in
            let client = HTTPClient(configuration: .init(timeout: .milliseconds(300)))
            let start = ContinuousClock.now
            let error = await #expect(throws: HTTPError.self) { try await client.get(server.url("/hang")) }
            #expect(error?.kind == .timeout)
            #expect(error?.isRetryable == true)
            #expect(ContinuousClock.now - start < .seconds(20), "the server would hang for 120 s")
        }
    }

    @Test("a closed port fails fast as connection refused")
    func connectionRefused() async throws {
        let closed = try ClosedPort()
        defer { withExtendedLifetime(closed) {} }
        let port = closed.port
        // A long connect timeout: the refusal must come from the kernel, not from waiting (a wait
        // would end as .timeout after 120 s; the kind says which it was, the bound leaves room for a busy machine).
        let client = HTTPClient(configuration: .init(connectTimeout: .seconds(120)))
        let start = ContinuousClock.now
        let error = await #expect(throws: HTTPError.self) { try await client.get("http://127.0.0.1:\(port)/") }
        #expect(error?.kind == .connectionRefused)  // a wait would end as .timeout
        #expect(error?.isRetryable == true)
        #expect(ContinuousClock.now - start < .seconds(100))  // well before the connect timeout, even on a loaded machine
    }

    @Test("libcurl's DNS failure maps to .dns (mapped offline: tests send nothing off loopback)")
    func dnsMapping() {
        let transfer = CurlTransfer(
            request: HTTPRequest(url: "http://prometheus.invalid/"),
            settings: CurlSettings(connectTimeoutMillis: 1, timeoutMillis: 1, tls: .init(), proxy: .none,
                                   basicAuth: nil, headers: [], userAgent: "t"),
            endpoint: "http://prometheus.invalid/", maxResponseBytes: 1, secrets: [])
        guard case .failure(let error as HTTPError) = transfer.outcome(code: CURLE_COULDNT_RESOLVE_HOST, osErrno: 0) else {
            Issue.record("expected an HTTPError")
            return
        }
        #expect(error.kind == .dns)
        #expect(error.isRetryable)
    }

    @Test("cancelling the task aborts the transfer at once, and the client stays usable")
    func cancellation() async throws {
        try await withTestServer { server async throws in
            let client = HTTPClient()
            let start = ContinuousClock.now
            let task = Task { try await client.get(server.url("/hang")) }
            try await Task.sleep(for: .milliseconds(200))
            task.cancel()
            await #expect(throws: CancellationError.self) { try await task.value }
            #expect(ContinuousClock.now - start < .seconds(20), "the server would hang for 120 s")
            #expect(try await client.get(server.url("/echo")).status == 200)

            // A task cancelled before the transfer starts never reaches the server.
            let early = Task {
                withUnsafeCurrentTask { $0?.cancel() }
                return try await client.get(server.url("/hang"))
            }
            await #expect(throws: CancellationError.self) { try await early.value }
        }
    }

    @Test("responses over the size limit fail with .tooLarge, with and without Content-Length")
    func sizeLimit() async throws {
        try await withTestServer { server async throws in
            let client = HTTPClient(configuration: .init(maxResponseBytes: 1 << 20))
            for chunked in ["0", "1"] {
                let ok = try await client.get(server.url("/big?bytes=\(1 << 19)&chunked=\(chunked == "1" ? "1" : "")"))
                #expect(ok.body.count == 1 << 19)
                let error = await #expect(throws: HTTPError.self) {
                    try await client.get(server.url("/big?bytes=\(3 << 20)&chunked=\(chunked == "1" ? "1" : "")"))
                }
                #expect(error?.kind == .tooLarge)
                #expect(error?.isRetryable == false)
            }
        }
    }

    @Test("a non-2xx status is a typed error with the status, an excerpt and Retry-After")
    func statusErrors() async throws {
        try await withTestServer { server async throws in
            let client = HTTPClient()
            let unavailable = try await client.get(server.url("/status/503"))
            #expect(unavailable.status == 503)
            let error = #expect(throws: HTTPError.self) { try unavailable.requireSuccess() }
            #expect(error?.kind == .status)
            #expect(error?.status == 503)
            #expect(error?.isRetryable == true)
            #expect(error?.retryAfter == "7")
            #expect(error?.bodyExcerpt?.contains("told to fail") == true)
            #expect(error?.description.contains("503") == true)

            let notFound = await #expect(throws: HTTPError.self) { try await client.get(server.url("/status/404")).requireSuccess() }
            #expect(notFound?.isRetryable == false)
            let tooMany = await #expect(throws: HTTPError.self) { try await client.get(server.url("/status/429")).requireSuccess() }
            #expect(tooMany?.isRetryable == true)
        }
    }

    @Test("basic auth is sent as an Authorization header")
    func basicAuth() async throws {
        try await withTestServer { server async throws in
            let client = HTTPClient(configuration: .init(authentication: .basic(username: "prom", password: "hunter2")))
            let echo = try Echo(try await client.get(server.url("/echo")).body)
            #expect(echo.headers["authorization"] == "Basic " + Data("prom:hunter2".utf8).base64EncodedString())
        }
    }

    @Test("a bearer token file is read again when Kubernetes rotates it")
    func bearerTokenRotation() async throws {
        try await withTestServer { server async throws in
            let directory = NSTemporaryDirectory() + "meshwatchd-token-" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            // Kubernetes' layout: token -> ..data/token, ..data -> a timestamped directory swapped atomically.
            func publish(_ token: String, generation: Int) throws {
                let versioned = directory + "/..2026_\(generation)"
                try FileManager.default.createDirectory(atPath: versioned, withIntermediateDirectories: true)
                try (token + "\n").write(toFile: versioned + "/token", atomically: true, encoding: .utf8)
                let staging = directory + "/..data_tmp"
                try? FileManager.default.removeItem(atPath: staging)
                try FileManager.default.createSymbolicLink(atPath: staging, withDestinationPath: "..2026_\(generation)")
                guard rename(staging, directory + "/..data") == 0 else { throw POSIXError(.EIO) }
            }
            try publish("token-one", generation: 1)
            try FileManager.default.createSymbolicLink(atPath: directory + "/token", withDestinationPath: "..data/token")

            let client = HTTPClient(configuration: .init(authentication: .bearerTokenFile(directory + "/token")))
            #expect(try Echo(try await client.get(server.url("/echo")).body).headers["authorization"] == "Bearer token-one")
            #expect(try Echo(try await client.get(server.url("/echo")).body).headers["authorization"] == "Bearer token-one")
            try publish("token-two", generation: 2)
            #expect(try Echo(try await client.get(server.url("/echo")).body).headers["authorization"] == "Bearer token-two")

            let missing = HTTPClient(configuration: .init(authentication: .bearerTokenFile(directory + "/absent")))
            let error = await #expect(throws: HTTPError.self) { try await missing.get(server.url("/echo")) }
            #expect(error?.kind == .credentials)
        }
    }

    @Test("tokens, passwords, URL user info, queries and secret URLs never appear in errors")
    func secretsStayOutOfErrors() async throws {
        let closed = try ClosedPort()
        defer { withExtendedLifetime(closed) {} }
        let port = closed.port
        let withToken = HTTPClient(configuration: .init(authentication: .bearerToken("tok-SECRET-123")))
        let tokenError = await #expect(throws: HTTPError.self) {
            try await withToken.get("http://admin:pw-SECRET-456@127.0.0.1:\(port)/api?key=q-SECRET-789")
        }
        let shown = tokenError.map { "\($0)" } ?? ""
        #expect(shown.contains("127.0.0.1:\(port)/api"))
        for secret in ["tok-SECRET-123", "pw-SECRET-456", "q-SECRET-789", "admin:"] {
            #expect(!shown.contains(secret), "\(secret) leaked into: \(shown)")
        }

        let hook = HTTPRequest(method: .post, url: "http://127.0.0.1:\(port)/services/T0/B0/hook-SECRET-abc", urlIsSecret: true)
        let hookError = await #expect(throws: HTTPError.self) { try await HTTPClient().execute(hook) }
        #expect(hookError?.endpoint == "http://127.0.0.1:\(port)/<redacted>")
        #expect(hookError.map { "\($0)" }?.contains("hook-SECRET-abc") == false)
    }

    @Test("requests go through the configured proxy, except for no_proxy hosts")
    func proxy() async throws {
        try await withTestServer { proxy async throws in
            try await withTestServer { direct async throws in
                let settings = ProxySettings(httpProxy: proxy.url(""), noProxy: "127.0.0.1")
                let client = HTTPClient(configuration: .init(proxy: settings))
                // The proxy (our echo server) gets the absolute URI; nothing resolves the name.
                let viaProxy = try Echo(try await client.get("http://prometheus.mesh.invalid:9090/api/v1/status/buildinfo").body)
                #expect(viaProxy.path == "http://prometheus.mesh.invalid:9090/api/v1/status/buildinfo")
                let bypassed = try Echo(try await client.get(direct.url("/echo")).body)
                #expect(bypassed.path == "/echo")
            }
        }
    }

    @Test("proxy settings follow curl's environment rules")
    func proxyFromEnvironment() {
        let env = ["HTTP_PROXY": "http://evil:1", "https_proxy": "http://secure:3128", "ALL_PROXY": "http://all:8080",
                   "NO_PROXY": ".cluster.local,10.0.0.0/8"]
        let settings = ProxySettings.fromEnvironment(env)
        #expect(settings.httpProxy == "http://all:8080")  // uppercase HTTP_PROXY ignored (httpoxy)
        #expect(settings.httpsProxy == "http://secure:3128")
        #expect(settings.noProxy == ".cluster.local,10.0.0.0/8")
        #expect(settings.proxy(for: "https://prom:9090") == "http://secure:3128")
        #expect(ProxySettings.fromEnvironment([:]) == .none)
    }
}

@Suite("HTTPClient connect timeout")
struct ConnectTimeoutTests {
    @Test("a connect that gets no answer ends at the connect timeout, well before the total timeout")
    func connectTimeout() async throws {
        // A listener whose one-slot backlog is filled by plain sockets: the kernel drops
        // the client's SYN, as an unreachable host would, without leaving loopback.
        let listener = try ListeningSocket(backlog: 0)
        var fillers: [Int32] = []
        defer { fillers.forEach { close($0) } }
        for _ in 0..<3 {
            let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(listener.port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            _ = fcntl(descriptor, F_SETFL, O_NONBLOCK)
            _ = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            fillers.append(descriptor)
        }
        try await Task.sleep(for: .milliseconds(100))
        let client = HTTPClient(configuration: .init(connectTimeout: .milliseconds(400), timeout: .seconds(60)))
        let start = ContinuousClock.now
        let error = await #expect(throws: HTTPError.self) { try await client.get("http://127.0.0.1:\(listener.port)/") }
        let elapsed = ContinuousClock.now - start
        #expect(error?.kind == .timeout, "\(String(describing: error))")
        #expect(error?.message.lowercased().contains("connect") == true, "\(String(describing: error))")
        #expect(elapsed >= .milliseconds(400))
        #expect(elapsed < .seconds(20), "took \(elapsed); the total timeout is 60 s")
    }
}

@Suite("HTTPClient under cancellation races")
struct CancellationRaceTests {
    @Test("cancelling tasks whose transfers just finished never strands another transfer on the reused handle",
          .timeLimit(.minutes(3)))  // a stranded transfer hangs forever; 1,200 transfers on a busy machine take time
    func lateCancellationsDoNotStrandOthers() async throws {
        // A refused port answers at once, so transfers finish and hand their easy handles
        // back while sibling tasks are being cancelled: the pattern of `async let` queries
        // after the first failure. Every task must come back.
        let closed = try ClosedPort()
        defer { withExtendedLifetime(closed) {} }
        let port = closed.port
        let client = HTTPClient(configuration: .init(maxIdleHandles: 2))
        for _ in 0..<200 {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<6 {
                    group.addTask { _ = try await client.get("http://127.0.0.1:\(port)/") }
                }
                // The first failure cancels the rest, as `async let` does.
                _ = try? await group.next()
                group.cancelAll()
                while (try? await group.next()) != nil {}
            }
        }
        // Reaching this line is the assertion (a stranded transfer would hang the group until
        // the time limit); the client still answers afterwards.
        let error = await #expect(throws: HTTPError.self) { try await client.get("http://127.0.0.1:\(port)/") }
        #expect(error?.kind == .connectionRefused)
    }
}
