import GoTemplate
import PromClient
import AlertEngine
import ArgumentParser
import Foundation
import Logging
import MetricModel
import Remediation

/// Where the Kubernetes API is: flags over the configuration; in a pod, the service account.
struct KubernetesOptions: ParsableArguments {
    @Option(help: ArgumentHelp("kubeconfig file for the Kubernetes API.", valueName: "path"))
    var kubeconfig: String?

    @Option(help: ArgumentHelp("kubeconfig context (default: the current one).", valueName: "name"))
    var context: String?

    @Flag(help: "Use the pod's service account (KUBERNETES_SERVICE_HOST and the mounted token).")
    var inCluster = false

    /// The client, or nil when no Kubernetes API is configured (runbooks then skip their Kubernetes steps).
    func makeClient(configuration: Configuration.Kubernetes?, environment: [String: String], logger: Logger) throws -> KubernetesClient? {
        let connection: KubernetesConnection
        if inCluster || configuration?.inCluster == true {
            connection = try KubernetesConnection.inCluster(environment: environment)
        } else if let path = kubeconfig ?? configuration?.kubeconfig {
            connection = try KubernetesConnection.kubeconfig(path: path, context: context ?? configuration?.context)
        } else if environment["KUBERNETES_SERVICE_HOST"] != nil,
                  FileManager.default.isReadableFile(atPath: KubernetesConnection.serviceAccountDirectory + "/token") {
            connection = try KubernetesConnection.inCluster(environment: environment)
        } else {
            return nil
        }
        if connection.tls.insecureSkipVerify {
            logger.warning("Kubernetes API certificate checks are off (insecure-skip-tls-verify)", metadata: ["kubernetes.server": "\(connection.server)"])
        }
        return KubernetesClient(connection: connection, logger: logger)
    }
}

extension RunbookRunner {
    /// A runner whose step strings are templated as annotations are (`{{ $labels.x }}`,
    /// functions, `$externalLabels`).
    package static func make(prometheus: PrometheusClient?, kubernetes: KubernetesClient?, execAllow: [String],
                     context: EvaluationContext) -> RunbookRunner {
        var runner = RunbookRunner(prometheus: prometheus, kubernetes: kubernetes, execAllowList: Set(execAllow)) { text, alert in
            guard text.contains("{{") else { return text }
            do {
                return try Template(text, name: "runbook").execute(TemplateData(labels: Labels(alert.labels), externalLabels: context.externalLabels,
                                                                                 externalURL: context.externalURL, value: .nan))
            } catch {
                return RunbookRunner.substituteLabels(text, alert)
            }
        }
        runner.analyze = AnalysisReport.step
        return runner
    }
}
