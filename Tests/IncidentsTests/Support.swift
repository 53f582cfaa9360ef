import AlertModel
import Foundation
@testable import Incidents
import MeshFixtures
import MeshHTTP
import MetricModel
import Testing

func finding(_ name: String = "IstioHighErrorRate", kind: Finding.Kind = .firing) -> Finding {
    let instance = AlertInstance(labels: Labels(["alertname": name, "severity": "critical", "destination_workload": "reviews"]),
                                 annotations: Labels(["summary": "reviews: 12% of requests fail with 5xx"]), state: .firing,
                                 value: 0.12, activeAt: Date(timeIntervalSince1970: 1_750_002_400),
                                 firedAt: Date(timeIntervalSince1970: 1_750_002_520))
    let transition = AlertTransition(kind: .firing, group: "meshwatchd-istio", rule: name, instance: instance,
                                     at: Date(timeIntervalSince1970: 1_750_002_520))
    return Finding(transition: transition, kind: kind, links: ["runbook": "https://runbooks.example/IstioHighErrorRate"],
                   generatedAt: Date(timeIntervalSince1970: 1_750_002_521))
}
