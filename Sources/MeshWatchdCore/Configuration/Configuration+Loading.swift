import ArgumentParser
import Foundation

extension Configuration {
    /// Reads `path` strictly (JSON as RFC 8259 writes it, or YAML for `.yaml`/`.yml`), resolves
    /// its relative paths, and lists every problem: unknown keys, then those of the values. A
    /// file that cannot be read, a syntax error or a value of the wrong type is the one problem,
    /// and there is no configuration.
    /// `readingSinks: false` is for the commands that never notify (`eval`, `replay`, `ledger`,
    /// `runbooks`): the sinks' values and secret files are not checked (their keys still are).
    static func check(path: String, readingSinks: Bool = true) -> (configuration: Configuration?, problems: [ConfigurationError]) {
        do throws(ConfigurationError) {
            var (configuration, unknownKeys) = try ConfigurationDocument(path: path).decode(Configuration.self)
            configuration.resolvePaths(relativeTo: path)
            return (configuration, unknownKeys + configuration.problems(file: path, readingSinks: readingSinks))
        } catch {
            return (nil, [error])
        }
    }

    /// The configuration in `path`, or its first problem (`check(path:)` lists them all).
    static func load(path: String, readingSinks: Bool = true) throws -> Configuration {
        let checked = check(path: path, readingSinks: readingSinks)
        if let problem = checked.problems.first { throw problem }
        guard let configuration = checked.configuration else { throw ConfigurationError(file: path, keyPath: "", message: "cannot be read") }
        return configuration
    }

    /// Every path in the file is relative to the configuration file, as in Prometheus: rule
    /// files, Prometheus's credential and TLS files, the kubeconfig, the state directory, the
    /// sinks' secret files, the web tokens' files, the kill switch and the opted-in rules' files.
    mutating func resolvePaths(relativeTo file: String) {
        let base = URL(fileURLWithPath: file).deletingLastPathComponent().path
        func resolved(_ path: String) -> String { path.hasPrefix("/") ? path : base + "/" + path }
        ruleFiles = ruleFiles?.map(resolved)
        if var web {
            web.tokens = web.tokens?.map { token in
                var token = token
                token.file = token.file.map(resolved)
                return token
            }
            self.web = web
        }
        packs = packs?.mapValues { pack in
            var pack = pack
            pack.file = pack.file.map(resolved)
            return pack
        }
        if var prometheus {
            prometheus.headerFiles = prometheus.headerFiles?.mapValues(resolved)
            if var basicAuth = prometheus.basicAuth {
                basicAuth.passwordFile = basicAuth.passwordFile.map(resolved)
                prometheus.basicAuth = basicAuth
            }
            prometheus.bearerTokenFile = prometheus.bearerTokenFile.map(resolved)
            prometheus.caFile = prometheus.caFile.map(resolved)
            prometheus.certFile = prometheus.certFile.map(resolved)
            prometheus.keyFile = prometheus.keyFile.map(resolved)
            self.prometheus = prometheus
        }
        if var remoteWrite {
            remoteWrite.headerFiles = remoteWrite.headerFiles?.mapValues(resolved)
            remoteWrite.bearerTokenFile = remoteWrite.bearerTokenFile.map(resolved)
            remoteWrite.caFile = remoteWrite.caFile.map(resolved)
            remoteWrite.certFile = remoteWrite.certFile.map(resolved)
            remoteWrite.keyFile = remoteWrite.keyFile.map(resolved)
            self.remoteWrite = remoteWrite
        }
        if var kubernetes {
            kubernetes.kubeconfig = kubernetes.kubeconfig.map(resolved)
            self.kubernetes = kubernetes
        }
        stateDirectory = stateDirectory.map(resolved)
        // Secret files too: the same file means the same thing whatever the working directory.
        sinks = sinks?.map { sink in
            var sink = sink
            sink.urlFile = sink.urlFile.map(resolved)
            sink.secretFile = sink.secretFile.map(resolved)
            sink.routingKeyFile = sink.routingKeyFile.map(resolved)
            sink.bearerTokenFile = sink.bearerTokenFile.map(resolved)
            sink.headerFiles = sink.headerFiles?.mapValues(resolved)
            sink.caFile = sink.caFile.map(resolved)
            sink.certFile = sink.certFile.map(resolved)
            sink.keyFile = sink.keyFile.map(resolved)
            if var basic = sink.basicAuth {
                basic.passwordFile = basic.passwordFile.map(resolved)
                sink.basicAuth = basic
            }
            return sink
        }
        if var remediation {
            remediation.killSwitchFile = remediation.killSwitchFile.map(resolved)
            remediation.rules = remediation.rules?.map { .init(file: resolved($0.file), group: $0.group, rule: $0.rule) }
            self.remediation = remediation
        }
    }
}

extension Configuration {
    /// For a one-shot command: the file without reading the sinks' secrets (or an empty
    /// configuration), or every problem on stderr and exit 78 (EX_CONFIG).
    static func forCommand(_ path: String?) throws -> Configuration {
        do { return try path.map { try Configuration.load(path: $0, readingSinks: false) } ?? Configuration() } catch {
            FileHandle.standardError.write(Data("meshwatchd: configuration is wrong: \(error)\n".utf8))
            throw ExitCode(78)
        }
    }
}
