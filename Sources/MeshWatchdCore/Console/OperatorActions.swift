import AlertEngine
import Foundation
import Incidents
import Logging
import MetricModel
import Remediation
import Synchronization

/// Acknowledge and silence: what the page, the API and the CLI do, in one place. Each change
/// is saved (SQLite, in the transaction that queues what the sinks are told), logged, applied
/// to the planner, and with leader election copied to the cluster so it survives a failover.
final class OperatorActions: Sendable {
    let planner: NotificationPlanner
    let store: StateStore
    let status: DaemonStatus
    let outboxSignal: OutboxSignal
    let logger: Logger
    /// The sinks of the running configuration (Alertmanager sinks expire forwarded silences).
    let sinks: @Sendable () -> [ConfiguredSink]
    let cluster: ClusterCopy?
    /// With leader election: only the leader acts (a follower forwards; one that could not must not
    /// keep a silence the leader never sees, nor overwrite the cluster's copy).
    let leadership: Leadership?
    /// Actions one at a time: each reads, saves, applies and copies a whole state.
    private let serial = SerialQueue()

    struct Failure: Error, CustomStringConvertible {
        /// 400 bad input, 404 unknown alert or silence, 503 the state cannot be saved.
        var status: Int
        var description: String
    }

    init(planner: NotificationPlanner, store: StateStore, status: DaemonStatus, outboxSignal: OutboxSignal, cluster: ClusterCopy? = nil,
         leadership: Leadership? = nil, logger: Logger, sinks: @escaping @Sendable () -> [ConfiguredSink]) {
        self.leadership = leadership
        self.planner = planner
        self.store = store
        self.status = status
        self.outboxSignal = outboxSignal
        self.cluster = cluster
        self.logger = logger
        self.sinks = sinks
        do {
            planner.silences = try store.silences()
            try store.pruneAcknowledgements()
            _ = planner.restore(acknowledgements: try store.acknowledgements())
        } catch {
            logger.error("could not read silences and acknowledgements", metadata: ["error": "\(error)"])
        }
    }

    static let maxComment = 1024

    // MARK: - Acknowledge

    /// Acknowledges the firing alert `<group>/<fingerprint>`: reminders and escalation stop,
    /// and every sink that heard of it is told who took it.
    @discardableResult
    func acknowledge(alertKey: String, by user: String, comment: String, at time: Date = Date()) async throws(Failure) -> Acknowledgement {
        try await serial.run { () async throws(Failure) in try await self.acknowledgeNow(alertKey: alertKey, by: user, comment: comment, at: time) }
    }

    private func checkLeading() throws(Failure) {
        if let leadership, !leadership.isLeader {
            throw Failure(status: 503, description: "this replica is not the leader and could not forward to it; try again")
        }
    }

    private func acknowledgeNow(alertKey: String, by user: String, comment: String, at time: Date) async throws(Failure) -> Acknowledgement {
        try checkLeading()
        guard comment.utf8.count <= Self.maxComment else { throw Failure(status: 400, description: "the comment may not exceed \(Self.maxComment) bytes") }
        let transition: AlertTransition
        if let found = await status.instance(alertKey: alertKey), found.instance.state == .firing {
            transition = AlertTransition(kind: .firing, group: found.group, rule: found.rule, instance: found.instance, at: time)
        } else if let record = planner.records[alertKey], let stored = record.instance {
            // The daemon's own alerts (MeshWatchDatasourceDown) keep their instance in the record.
            let instance = AlertInstance(labels: Labels(stored.labels), annotations: Labels(stored.annotations), state: .firing, value: 1,
                                         activeAt: record.activeAt, firedAt: record.firedAt)
            transition = AlertTransition(kind: .firing, group: record.group, rule: record.rule, instance: instance, at: time)
        } else {
            throw Failure(status: 404, description: "no firing alert \(alertKey)")
        }
        let acknowledgement = Acknowledgement(by: user, at: time, comment: comment)
        guard let plan = planner.acknowledge(transition, by: acknowledgement) else {
            throw Failure(status: 404, description: "alert \(alertKey) has not been notified yet; try again after its next evaluation")
        }
        do { try await store.perform { try $0.save(acknowledgement: acknowledgement, alertKey: alertKey, plan: plan) } } catch {
            throw Failure(status: 503, description: "the acknowledgement could not be saved: \(error)")
        }
        outboxSignal.raise()
        logger.notice("alert acknowledged", metadata: [
            "alert.key": "\(alertKey)", "rule.name": "\(transition.rule)", "user.name": "\(user)", "comment": "\(comment)",
        ])
        await syncToCluster()
        return acknowledgement
    }

    // MARK: - Silences

    /// Every silence kept (expired ones for five days), newest end first.
    func silences() async -> [Silence] {
        (try? await store.perform { try $0.silences() }) ?? planner.silences
    }

    func addSilence(matchers: [String], startsAt: Date?, endsAt: Date, createdBy: String, comment: String,
                    at time: Date = Date()) async throws(Failure) -> Silence {
        try await serial.run { () async throws(Failure) in
            try await self.addSilenceNow(matchers: matchers, startsAt: startsAt, endsAt: endsAt, createdBy: createdBy, comment: comment, at: time)
        }
    }

    private func addSilenceNow(matchers: [String], startsAt: Date?, endsAt: Date, createdBy: String, comment: String,
                               at time: Date) async throws(Failure) -> Silence {
        try checkLeading()
        let silence: Silence
        do {
            silence = try Silence(matchers: matchers, startsAt: startsAt ?? time, endsAt: endsAt, createdBy: createdBy, comment: comment)
        } catch {
            throw Failure(status: 400, description: error.description)
        }
        guard silence.endsAt > time else { throw Failure(status: 400, description: "the silence would end before now") }
        try await save(silence)
        logger.notice("silence added", metadata: [
            "silence.id": "\(silence.id)", "silence.matchers": "\(silence.matchers.joined(separator: ","))",
            "silence.ends_at": "\(Finding.timestamp(silence.endsAt))", "user.name": "\(createdBy)", "comment": "\(comment)",
        ])
        await syncToCluster()
        return silence
    }

    /// Expires a silence now; Alertmanager sinks expire the copy they forwarded.
    func expireSilence(id: String, by user: String, at time: Date = Date()) async throws(Failure) -> Silence {
        try await serial.run { () async throws(Failure) in try await self.expireSilenceNow(id: id, by: user, at: time) }
    }

    private func expireSilenceNow(id: String, by user: String, at time: Date) async throws(Failure) -> Silence {
        try checkLeading()
        guard var silence = await silences().first(where: { $0.id == id }) else { throw Failure(status: 404, description: "no silence \(id)") }
        guard silence.endsAt > time else { throw Failure(status: 400, description: "silence \(id) has already expired") }
        silence.endsAt = max(time, silence.startsAt)
        silence.expiredBy = user
        try await save(silence)
        logger.notice("silence expired", metadata: ["silence.id": "\(id)", "user.name": "\(user)"])
        for sink in sinks() {
            guard let alertmanager = sink.sink as? AlertmanagerSink else { continue }
            for error in await alertmanager.expireForwarded(silenceID: id) {
                logger.warning("could not expire the silence in Alertmanager; it ends there at its own end", metadata: [
                    "silence.id": "\(id)", "sink.name": "\(sink.name)", "error": "\(error)",
                ])
            }
        }
        await syncToCluster()
        return silence
    }

    private func save(_ silence: Silence) async throws(Failure) {
        do { try await store.perform { try $0.save(silence: silence) } } catch {
            throw Failure(status: 503, description: "the silence could not be saved: \(error)")
        }
        planner.silences = await silences().filter { $0.endsAt > Date() }
    }

    // MARK: - The cluster's copy

    /// Writes silences and acknowledgements to the ConfigMap (the leader does, after each change).
    func syncToCluster() async {
        guard let cluster, leadership?.isLeader ?? true else { return }
        let acknowledgements = (try? await store.perform { try $0.acknowledgements() }) ?? [:]
        do { try await cluster.save(silences: await silences(), acknowledgements: acknowledgements) } catch {
            logger.error("could not copy silences and acknowledgements to the cluster; a failover would lose the latest",
                         metadata: ["configmap": "\(cluster.namespace)/\(cluster.name)", "error": "\(error)"])
        }
    }

    /// On taking the lease: adopts what the previous leader kept in the cluster (silences by id,
    /// the later change winning; acknowledgements of alerts this replica sees firing).
    func adoptFromCluster() async {
        _ = try? await serial.run { () async throws(Failure) in await self.adoptNow() }
    }

    private func adoptNow() async {
        guard let cluster else { return }
        let kept: ClusterCopy.Contents
        do { kept = try await cluster.load() } catch {
            logger.error("could not read silences and acknowledgements from the cluster", metadata: [
                "configmap": "\(cluster.namespace)/\(cluster.name)", "error": "\(error)",
            ])
            return
        }
        if kept.dropped > 0 {
            logger.error("invalid silences in the cluster's copy were dropped", metadata: [
                "configmap": "\(cluster.namespace)/\(cluster.name)", "silences.dropped": .stringConvertible(kept.dropped),
            ])
        }
        let local = Dictionary(await silences().map { ($0.id, $0) }) { first, _ in first }
        for silence in kept.silences {
            // An expiry shortens a silence: the earlier end is the later change.
            if let mine = local[silence.id], mine.endsAt <= silence.endsAt { continue }
            try? await store.perform { try $0.save(silence: silence) }
        }
        planner.silences = await silences().filter { $0.endsAt > Date() }
        let plan = planner.restore(acknowledgements: kept.acknowledgements)
        for (key, record) in plan.upserts {
            guard let acknowledgement = record.acknowledgement else { continue }
            var plan = NotificationPlan()
            plan.upserts[key] = record
            let one = plan
            try? await store.perform { try $0.save(acknowledgement: acknowledgement, alertKey: key, plan: one) }
        }
        if !kept.silences.isEmpty || !kept.acknowledgements.isEmpty {
            logger.info("silences and acknowledgements adopted from the cluster", metadata: [
                "silences": .stringConvertible(kept.silences.count), "acknowledgements": .stringConvertible(kept.acknowledgements.count),
            ])
        }
        // Written back only when this replica knows more than the cluster (changes made while it
        // led before and could not copy): taking the lease writes nothing otherwise.
        let merged = await silences()
        let acknowledgements = (try? await store.perform { try $0.acknowledgements() }) ?? [:]
        func key(_ silence: Silence) -> String { "\(silence.id) \(Finding.timestamp(silence.endsAt))" }
        if Set(merged.map(key)) != Set(kept.silences.map(key))
            || Set(acknowledgements.keys) != Set(kept.acknowledgements.keys) {
            await syncToCluster()
        }
    }
}

/// Silences and acknowledgements kept in a ConfigMap of the daemon's namespace, so a new leader
/// starts from them. Only this object is written (RBAC grants get/update on it by name).
struct ClusterCopy: Sendable {
    let client: KubernetesClient
    let namespace: String
    let name: String

    struct Contents: Sendable {
        var silences: [Silence] = []
        /// Entries that were not valid silences.
        var dropped = 0
        var acknowledgements: [String: Acknowledgement] = [:]
    }

    struct ConfigMap: Codable {
        struct Meta: Codable {
            var name: String
            var namespace: String?
            var resourceVersion: String?
            var labels: [String: String]?
            var annotations: [String: String]?
        }
        var apiVersion = "v1"
        var kind = "ConfigMap"
        var metadata: Meta
        var data: [String: String]?
    }

    var path: String { "/api/v1/namespaces/\(namespace)/configmaps/\(name)" }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // Milliseconds kept (`.iso8601` would drop them, and a round trip would look like a change).
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(Finding.timestamp(date))
        }
        return encoder
    }()

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            guard let date = Finding.parseTimestamp(text) else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not RFC 3339: \(text)"))
            }
            return date
        }
        return decoder
    }()

    func load() async throws -> Contents {
        let map: ConfigMap
        do { map = try await client.get(ConfigMap.self, path) } catch let error as KubernetesError where error.isNotFound { return Contents() }
        let decoder = Self.decoder
        var contents = Contents()
        if let text = map.data?["silences.json"] {
            // Each entry on its own: one that does not pass a silence's checks is dropped, not the rest with it.
            let entries = (try? decoder.decode([Lossy<Silence>].self, from: Data(text.utf8))) ?? []
            contents.silences = entries.compactMap(\.value)
            contents.dropped = entries.count - contents.silences.count
        }
        if let text = map.data?["acknowledgements.json"] {
            contents.acknowledgements = (try? decoder.decode([String: Acknowledgement].self, from: Data(text.utf8))) ?? [:]
        }
        return contents
    }

    /// Replaces the ConfigMap's two keys (a compare-and-swap on its resourceVersion, retried on a conflict).
    func save(silences: [Silence], acknowledgements: [String: Acknowledgement]) async throws {
        let data = [
            "silences.json": String(decoding: try Self.encoder.encode(silences), as: UTF8.self),
            "acknowledgements.json": String(decoding: try Self.encoder.encode(acknowledgements), as: UTF8.self),
        ]
        for attempt in 0..<3 {
            var map: ConfigMap
            do { map = try await client.get(ConfigMap.self, path) } catch let error as KubernetesError where error.isNotFound {
                // The manifests ship it; without them (a test cluster), create it.
                map = ConfigMap(metadata: .init(name: name, namespace: namespace), data: data)
                try await client.create(path: "/api/v1/namespaces/\(namespace)/configmaps", body: map)
                return
            }
            map.data = (map.data ?? [:]).merging(data) { $1 }
            do {
                try await client.replace(path: path, body: map)
                return
            } catch let error as KubernetesError where error.code == 409 && attempt < 2 {
                continue
            }
        }
    }
}

/// Runs async work one piece at a time, in the order asked (an actor alone would interleave at awaits).
final class SerialQueue: Sendable {
    private let tail = Mutex<Task<Void, Never>?>(nil)

    func run<T: Sendable>(_ work: @escaping @Sendable () async throws(OperatorActions.Failure) -> T) async throws(OperatorActions.Failure) -> T {
        let task = tail.withLock { tail -> Task<Result<T, OperatorActions.Failure>, Never> in
            let previous = tail
            let task = Task { () -> Result<T, OperatorActions.Failure> in
                await previous?.value
                do throws(OperatorActions.Failure) { return .success(try await work()) } catch { return .failure(error) }
            }
            tail = Task { _ = await task.value }
            return task
        }
        return try await task.value.get()
    }
}

/// Decodes to nil instead of failing the whole array.
struct Lossy<T: Decodable & Sendable>: Decodable, Sendable {
    let value: T?
    init(from decoder: any Decoder) throws { value = try? T(from: decoder) }
}
