import Foundation

extension MeshScenario {
    /// The cluster behind the incident, for the Kubernetes double: namespaces, Deployments with
    /// their history (the bad `reviews` rollout two minutes before its 5xx begin), pods in the
    /// states the metrics imply, events, an HPA, Istio resources, the cert-manager Certificate
    /// and, when given, a TLS secret holding `gatewayCertificatePEM`. A JSON array for `withKubernetes(seed:)`.
    public func kubernetesSeed(gatewayCertificatePEM: String? = nil) throws -> String {
        func time(_ minutes: Double) -> String {
            let formatter = ISO8601DateFormatter()
            return formatter.string(from: start.addingTimeInterval(minutes * 60))
        }
        func deployment(_ name: String, _ namespace: String, image: String, replicas: Int = 2, sidecar: Bool = true,
                        log: String? = nil, labels: [String: String] = [:]) -> [String: Any] {
            var containers: [[String: Any]] = [["name": name, "image": image]]
            if sidecar {
                containers.append(mesh == "linkerd" ? ["name": "linkerd-proxy", "image": "cr.l5d.io/linkerd/proxy:stable-2.14.10"]
                                                    : ["name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.20.3"])
            }
            var podLabels = ["app": name, "version": "v1"].merging(labels) { $1 }
            podLabels["app"] = labels["app"] ?? name
            var templateMeta: [String: Any] = ["labels": podLabels]
            if let log { templateMeta["annotations"] = ["test.meshwatchd.dev/log": log] }
            return ["apiVersion": "apps/v1", "kind": "Deployment",
                    "metadata": ["name": name, "namespace": namespace, "labels": ["app": podLabels["app"]!]],
                    "spec": ["replicas": replicas, "selector": ["matchLabels": ["app": podLabels["app"]!]],
                             "template": ["metadata": templateMeta, "spec": ["containers": containers]]]]
        }
        func service(_ name: String, _ namespace: String) -> [String: Any] {
            ["apiVersion": "v1", "kind": "Service", "metadata": ["name": name, "namespace": namespace],
             "spec": ["selector": ["app": name], "ports": [["port": 9080]]]]
        }
        func event(_ namespace: String, _ object: String, kind: String = "Pod", type: String = "Warning", reason: String,
                   message: String, at minutes: Double, count: Int = 1) -> [String: Any] {
            ["apiVersion": "v1", "kind": "Event",
             "metadata": ["name": "\(object).\(Int(minutes * 60))", "namespace": namespace],
             "involvedObject": ["kind": kind, "name": object, "namespace": namespace], "type": type, "reason": reason,
             "message": message, "count": count, "firstTimestamp": time(minutes), "lastTimestamp": time(minutes)]
        }
        let goodReviewsLog = "INFO GET /reviews/0 200\nINFO GET /reviews/1 200\n"
        let badReviewsLog = (0..<30).map { i in
            i % 3 == 0 ? "ERROR GET /reviews/\(i) 503 upstream ratings: connection pool exhausted (ratings-client v2)"
                       : "INFO GET /reviews/\(i) 200"
        }.joined(separator: "\n") + "\n"
        let proxyLog = """
            [2026-01-01T10:45:01.000Z] "GET /checkout HTTP/1.1" 503 UO upstream_reset_before_response_started{overflow}
            [2026-01-01T10:45:02.000Z] outlier_detection: ejected host 10.0.3.17:8080 consecutive_5xx
            [2026-01-01T10:45:03.000Z] "GET /checkout HTTP/1.1" 200 - via_upstream

            """
        var objects: [[String: Any]] = [["_double": "clock", "at": time(-7 * 24 * 60)]]
        if mesh == "linkerd" {
            // Linkerd injects by annotation; shop's pods were annotated one by one (analyze's MW201).
            for (name, annotations) in [("bookinfo", ["linkerd.io/inject": "enabled"]), ("shop", [:]), ("linkerd", [:]), ("cert-manager", [:])] {
                objects.append(["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": name, "annotations": annotations]])
            }
        } else {
            for (name, labels) in [("bookinfo", ["istio-injection": "enabled"]), ("shop", ["istio-injection": "enabled"]),
                                   ("istio-system", [:]), ("cert-manager", [:])] {
                objects.append(["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": name, "labels": labels]])
            }
        }
        objects += [
            deployment("productpage", "bookinfo", image: "bookinfo/productpage:1.18", replicas: 3),
            deployment("reviews", "bookinfo", image: "bookinfo/reviews:1.18", log: goodReviewsLog),
            deployment("ratings", "bookinfo", image: "bookinfo/ratings:1.18"),
            deployment("details", "bookinfo", image: "bookinfo/details:1.18", replicas: 3, sidecar: false),
            deployment("checkout", "shop", image: "shop/checkout:3.2", replicas: 3, log: proxyLog),
            deployment("batch-report", "shop", image: "shop/batch-report:1.0", replicas: 1),
            mesh == "linkerd"
                ? deployment("linkerd-destination", "linkerd", image: "cr.l5d.io/linkerd/controller:stable-2.14.10", sidecar: false,
                             labels: ["app": "linkerd-destination", "linkerd.io/control-plane-ns": "linkerd",
                                      "linkerd.io/control-plane-component": "destination"])
                : deployment("istiod", "istio-system", image: "docker.io/istio/pilot:1.20.3", sidecar: false),
            deployment("cert-manager", "cert-manager", image: "quay.io/jetstack/cert-manager-controller:v1.14.4", replicas: 1,
                       sidecar: false, labels: ["app": "cert-manager", "app.kubernetes.io/instance": "cert-manager"]),
            service("productpage", "bookinfo"), service("reviews", "bookinfo"), service("ratings", "bookinfo"),
            service("details", "bookinfo"), service("checkout", "shop"),
            ["apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": ["name": "productpage", "namespace": "bookinfo"],
             "spec": ["scaleTargetRef": ["apiVersion": "apps/v1", "kind": "Deployment", "name": "productpage"], "minReplicas": 3, "maxReplicas": 10],
             "status": ["currentReplicas": 3, "desiredReplicas": 3]],
            ["apiVersion": "networking.istio.io/v1beta1", "kind": "DestinationRule", "metadata": ["name": "checkout", "namespace": "shop"],
             "spec": ["host": "checkout.shop.svc.cluster.local",
                      "trafficPolicy": ["connectionPool": ["http": ["http1MaxPendingRequests": 10, "maxRequestsPerConnection": 1]],
                                        "outlierDetection": ["consecutive5xxErrors": 3, "interval": "10s", "baseEjectionTime": "30s"]]]],
            ["apiVersion": "security.istio.io/v1beta1", "kind": "PeerAuthentication", "metadata": ["name": "default", "namespace": "bookinfo"],
             "spec": ["mtls": ["mode": "PERMISSIVE"]]],
            ["apiVersion": "security.istio.io/v1beta1", "kind": "AuthorizationPolicy", "metadata": ["name": "allow-productpage", "namespace": "bookinfo"],
             "spec": ["selector": ["matchLabels": ["app": "reviews"]], "action": "ALLOW",
                      "rules": [["from": [["source": ["principals": ["cluster.local/ns/bookinfo/sa/productpage"]]]]]]]],
            mesh == "linkerd"
                ? ["apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": ["name": "linkerd-identity-issuer", "namespace": "linkerd"],
                   "spec": ["secretName": "linkerd-identity-issuer", "isCA": true, "commonName": "identity.linkerd.cluster.local"],
                   "status": ["notAfter": time(5 * 24 * 60 + 60), "conditions": [["type": "Ready", "status": "True"]]]]
                : ["apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": ["name": "istio-gateway", "namespace": "istio-system"],
             "spec": ["secretName": "istio-gateway-tls", "dnsNames": ["shop.example.com"]],
             "status": ["notAfter": time(5 * 24 * 60 + 60), "conditions": [["type": "Ready", "status": "True"]]]],
            // The bad rollout: reviews 1.19 two minutes before its 5xx begin; its pods restart.
            ["_double": "clock", "at": time(38)],
            ["_double": "patch", "path": "/apis/apps/v1/namespaces/bookinfo/deployments/reviews", "type": "strategic",
             "body": ["spec": ["template": ["metadata": ["labels": ["version": "v2"], "annotations": ["test.meshwatchd.dev/log": badReviewsLog]],
                                            "spec": ["containers": [["name": "reviews", "image": "bookinfo/reviews:1.19"]]]]]]],
            ["_double": "pod_status", "namespace": "bookinfo", "selector": "app=reviews",
             "status": ["containerStatuses": [
                ["name": "reviews", "ready": true, "restartCount": 4, "lastState": ["terminated": ["reason": "Error", "exitCode": 1]]],
                ["name": mesh == "linkerd" ? "linkerd-proxy" : "istio-proxy", "ready": true, "restartCount": 0]]]],
            ["_double": "clock", "at": NSNull()],
            event("bookinfo", "reviews", kind: "Deployment", type: "Normal", reason: "ScalingReplicaSet",
                  message: "Scaled up replica set reviews-v2 to 2", at: 38),
            event("bookinfo", "reviews-v2", type: "Warning", reason: "BackOff", message: "Back-off restarting failed container reviews",
                  at: 44, count: 4),
            event("bookinfo", "reviews-v2", type: "Warning", reason: "Unhealthy", message: "Readiness probe failed: HTTP probe failed with statuscode: 503",
                  at: 43, count: 6),
            event("istio-system", "istiod", kind: "Deployment", type: "Normal", reason: "ScalingReplicaSet",
                  message: "Scaled up replica set istiod to 2", at: -60),
        ]
        if mesh == "linkerd" {
            objects.append(deployment("linkerd-identity", "linkerd", image: "cr.l5d.io/linkerd/controller:stable-2.14.10", replicas: 1, sidecar: false,
                                      log: "INFO issued certificate for reviews.bookinfo.serviceaccount.identity.linkerd.cluster.local\n"
                                          + "WARN the issuer certificate expires in 5 days\n",
                                      labels: ["app": "linkerd-identity", "linkerd.io/control-plane-ns": "linkerd",
                                               "linkerd.io/control-plane-component": "identity"]))
        }
        if let gatewayCertificatePEM {
            objects.append(["apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                            "metadata": ["name": "istio-gateway-tls", "namespace": "istio-system"],
                            "data": ["tls.crt": Data(gatewayCertificatePEM.utf8).base64EncodedString(), "tls.key": ""]])
        }
        let data = try JSONSerialization.data(withJSONObject: objects, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }
}
