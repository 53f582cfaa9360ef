#!/usr/bin/env python3
"""A stateful Kubernetes API server double for meshwatchd's tests and demo.

No real API server can be installed on the machines meshwatchd is built on; this stands in for
one, honestly enough that the real kubectl works against it (its fidelity is tested with
kubectl get, rollout history, rollout undo, rollout restart and scale). It serves:

- discovery (/version, /api, /api/v1, /apis, /apis/<group>/<version>) with kinds, verbs and
  shortNames, for the resources meshwatchd reads or writes;
- GET, LIST (labelSelector: =, ==, !=, in, notin, exists, !exists; fieldSelector on
  metadata.name, metadata.namespace and involvedObject.*), POST, PUT, PATCH (merge, JSON patch,
  strategic merge for the fields used here), DELETE (DeleteOptions preconditions);
- optimistic concurrency as the API server's: the resourceVersion the written object carries (a
  PUT body's, or one a merge, strategic or JSON patch puts there) must be the stored one, else
  409 Conflict; none means unconditional. A JSON patch whose `test` fails is 422 Invalid. The uid
  is immutable: a PATCH changing it is 422 Invalid, a PUT or Scale naming another is 409;
- subresources: deployments/scale and replicasets/scale (autoscaling/v1 Scale), */status,
  pods/log (the pod's `test.meshwatchd.dev/log` annotation, which its template may set);
- dryRun=All (on DELETE also in the DeleteOptions body): everything is computed, validated and
  precondition-checked, nothing is stored and the resourceVersion counter does not move; an
  update answers with the unchanged resourceVersion, a create with none;
- resourceVersion from one counter, metadata.generation bumped on spec changes;
- a small deployment controller: a template change makes a ReplicaSet with the next
  deployment.kubernetes.io/revision (or re-activates the one whose template matches, as a
  rollback does), scales the others to zero, and keeps pods per ReplicaSet; nothing while paused.

Errors are metav1.Status objects with reason, message and code. Authentication, when enabled:
a bearer token from --token, or a client certificate verified against --client-ca.

Test-only endpoints under /_double/: GET requests (every write received, dry runs included, with
the path and query both as sent, `rawPath` and `rawQuery`, and the query decoded), POST reset.
Listens on 127.0.0.1 only.
"""
import argparse, copy, datetime, hashlib, json, random, re, ssl, string, sys, threading, uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse, parse_qs, unquote

# (group, version, plural): kind, namespaced, shortNames, subresources
RESOURCES = {
    ("", "v1", "namespaces"): ("Namespace", False, ["ns"], ["status"]),
    ("", "v1", "pods"): ("Pod", True, ["po"], ["status", "log"]),
    ("", "v1", "events"): ("Event", True, ["ev"], []),
    ("", "v1", "services"): ("Service", True, ["svc"], ["status"]),
    ("", "v1", "secrets"): ("Secret", True, [], []),
    ("", "v1", "configmaps"): ("ConfigMap", True, ["cm"], []),
    ("apps", "v1", "deployments"): ("Deployment", True, ["deploy"], ["status", "scale"]),
    ("apps", "v1", "replicasets"): ("ReplicaSet", True, ["rs"], ["status", "scale"]),
    ("autoscaling", "v2", "horizontalpodautoscalers"): ("HorizontalPodAutoscaler", True, ["hpa"], ["status"]),
    ("networking.istio.io", "v1beta1", "destinationrules"): ("DestinationRule", True, ["dr"], []),
    ("networking.istio.io", "v1beta1", "virtualservices"): ("VirtualService", True, ["vs"], []),
    ("security.istio.io", "v1beta1", "peerauthentications"): ("PeerAuthentication", True, ["pa"], []),
    ("security.istio.io", "v1beta1", "authorizationpolicies"): ("AuthorizationPolicy", True, ["ap"], []),
    ("", "v1", "serviceaccounts"): ("ServiceAccount", True, ["sa"], []),
    ("networking.istio.io", "v1beta1", "gateways"): ("Gateway", True, ["gw"], []),
    ("cert-manager.io", "v1", "certificates"): ("Certificate", True, ["cert", "certs"], ["status"]),
    ("policy.linkerd.io", "v1beta3", "servers"): ("Server", True, ["srv"], []),
    ("policy.linkerd.io", "v1beta1", "serverauthorizations"): ("ServerAuthorization", True, ["saz"], []),
    ("cilium.io", "v2", "ciliumnetworkpolicies"): ("CiliumNetworkPolicy", True, ["cnp", "ciliumnp"], ["status"]),
    ("cilium.io", "v2", "ciliumclusterwidenetworkpolicies"): ("CiliumClusterwideNetworkPolicy", False, ["ccnp"], ["status"]),
    ("cilium.io", "v2", "ciliumendpoints"): ("CiliumEndpoint", True, ["cep", "ciliumep"], ["status"]),
    ("coordination.k8s.io", "v1", "leases"): ("Lease", True, [], []),
}
KIND_TO_RESOURCE = {v[0]: k for k, v in RESOURCES.items()}
VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]

LOCK = threading.RLock()
STORE = {}        # (group, plural, namespace, name) -> object
REQUESTS = []     # writes received
COUNTER = [100]
OPTIONS = None


CLOCK = [None]    # a seed may set the time objects are stamped with


def now():
    if CLOCK[0]:
        return CLOCK[0]
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def next_version():
    COUNTER[0] += 1
    return str(COUNTER[0])


def api_version(group, version):
    return f"{group}/{version}" if group else version


class APIError(Exception):
    def __init__(self, code, reason, message, details=None):
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details or {}

    def status(self):
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": self.message,
                "reason": self.reason, "details": self.details, "code": self.code}


def not_found(kind_plural, name, group=""):
    return APIError(404, "NotFound", f'{kind_plural}{"." + group if group else ""} "{name}" not found',
                    {"name": name, "group": group, "kind": kind_plural})


# --- selectors ---------------------------------------------------------------------------

def parse_label_selector(text):
    requirements = []
    if not text:
        return requirements
    for part in re.findall(r'(?:[^,(]|\([^)]*\))+', text):
        part = part.strip()
        if not part:
            continue
        m = re.match(r'^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$', part)
        if m:
            requirements.append((m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",") if v.strip()}))
            continue
        m = re.match(r'^([\w./-]+)\s*(==|!=|=)\s*([\w./-]*)$', part)
        if m:
            requirements.append((m.group(1), {"==": "=", "=": "=", "!=": "!="}[m.group(2)], m.group(3)))
            continue
        m = re.match(r'^(!?)([\w./-]+)$', part)
        if m:
            requirements.append((m.group(2), "!exists" if m.group(1) else "exists", None))
            continue
        raise APIError(400, "BadRequest", f"unable to parse requirement: {part}")
    return requirements


def labels_match(labels, requirements):
    for key, op, value in requirements:
        present = key in labels
        if op == "=" and labels.get(key) != value: return False
        if op == "!=" and present and labels[key] == value: return False
        if op == "in" and (not present or labels[key] not in value): return False
        if op == "notin" and present and labels[key] in value: return False
        if op == "exists" and not present: return False
        if op == "!exists" and present: return False
    return True


def field_value(obj, path):
    value = obj
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def fields_match(obj, text):
    if not text:
        return True
    for part in text.split(","):
        m = re.match(r'^([\w.]+)\s*(==|!=|=)\s*(.*)$', part.strip())
        if not m:
            raise APIError(400, "BadRequest", f"invalid field selector: {part}")
        actual = field_value(obj, m.group(1))
        actual = "" if actual is None else str(actual)
        if (m.group(2) == "!=") == (actual == m.group(3)):
            return False
    return True


def selector_requirements(selector):
    """A LabelSelector object (matchLabels, matchExpressions) as requirements."""
    requirements = [(k, "=", v) for k, v in (selector or {}).get("matchLabels", {}).items()]
    for e in (selector or {}).get("matchExpressions", []):
        op = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!exists"}[e["operator"]]
        requirements.append((e["key"], op, set(e.get("values", [])) if op in ("in", "notin") else None))
    return requirements


# --- patches -----------------------------------------------------------------------------

def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# Lists merged by a key in strategic merge patches (the fields meshwatchd and kubectl touch).
MERGE_KEYS = {"containers": "name", "initContainers": "name", "env": "name", "ports": "containerPort", "volumes": "name",
              "volumeMounts": "mountPath", "conditions": "type", "ownerReferences": "uid"}


def strategic_merge(target, patch, field=None):
    if isinstance(patch, dict):
        if patch.get("$patch") == "replace":
            return {k: v for k, v in patch.items() if k != "$patch"}
        if patch.get("$patch") == "delete":
            return None
        result = copy.deepcopy(target) if isinstance(target, dict) else {}
        for key, value in patch.items():
            if key.startswith("$"):
                continue
            if value is None:
                result.pop(key, None)
            else:
                merged = strategic_merge(result.get(key), value, key)
                if merged is None:
                    result.pop(key, None)
                else:
                    result[key] = merged
        return result
    if isinstance(patch, list) and field in MERGE_KEYS and isinstance(target, list):
        key = MERGE_KEYS[field]
        result = copy.deepcopy(target)
        for item in patch:
            if not isinstance(item, dict) or key not in item:
                result.append(copy.deepcopy(item))
                continue
            index = next((i for i, existing in enumerate(result) if isinstance(existing, dict) and existing.get(key) == item[key]), None)
            if item.get("$patch") == "delete":
                if index is not None:
                    result.pop(index)
            elif index is None:
                result.append({k: v for k, v in item.items() if k != "$patch"})
            else:
                result[index] = strategic_merge(result[index], item)
        return result
    return copy.deepcopy(patch)


def pointer_parts(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise patch_not_applied(f"JSON pointer must be empty or start with a \"/\": {path}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def patch_not_applied(detail):
    """A JSON patch that decodes but does not apply, a failed `test` included. The API server answers
    NewGenericServerResponse(422): reason Invalid, a generic message, empty details; jsonpatch's own
    words (`detail`) are not in the answer, so the double writes them to its stderr only."""
    print(f"JSON patch not applied: {detail}", file=sys.stderr, flush=True)
    return APIError(422, "Invalid", "the server rejected our request due to an error in our request")


def json_patch(target, operations):
    if not isinstance(operations, list) or not all(isinstance(op, dict) for op in operations):
        raise APIError(400, "BadRequest", "json: cannot unmarshal the body into a JSON patch: it is not a list of operations")
    doc = copy.deepcopy(target)

    def parent(parts):
        node = doc
        for p in parts[:-1]:
            node = node[int(p)] if isinstance(node, list) else node[p]
        return node

    def get(parts):
        node = doc
        for p in parts:
            node = node[int(p)] if isinstance(node, list) else node[p]
        return node

    for op in operations:
        try:
            parts = pointer_parts(op["path"])
            kind = op["op"]
            if kind == "test":
                try:
                    actual = get(parts)
                except (KeyError, IndexError, ValueError, TypeError):
                    actual = None  # jsonpatch: a missing value equals only null
                if actual != op.get("value"):
                    raise patch_not_applied(f"testing value {op['path']} failed: test failed")
                continue
            if kind in ("move", "copy"):
                value = copy.deepcopy(get(pointer_parts(op["from"])))
                if kind == "move":
                    src = pointer_parts(op["from"])
                    node = parent(src)
                    del node[int(src[-1]) if isinstance(node, list) else src[-1]]
                kind, op = "add", {"path": op["path"], "value": value}
            if not parts:
                doc = copy.deepcopy(op["value"]) if kind in ("add", "replace") else None
                continue
            node, last = parent(parts), parts[-1]
            if kind == "add":
                if isinstance(node, list):
                    node.insert(len(node) if last == "-" else int(last), copy.deepcopy(op["value"]))
                else:
                    node[last] = copy.deepcopy(op["value"])
            elif kind == "replace":
                if isinstance(node, list):
                    node[int(last)] = copy.deepcopy(op["value"])
                else:
                    if last not in node:
                        raise patch_not_applied(f"replace operation does not apply: doc is missing key: {op['path']}: missing value")
                    node[last] = copy.deepcopy(op["value"])
            elif kind == "remove":
                del node[int(last) if isinstance(node, list) else last]
            else:
                raise patch_not_applied(f"Unexpected kind: {kind}")
        except (KeyError, IndexError, ValueError, TypeError) as error:
            raise patch_not_applied(f"the JSON patch operation {op.get('op')} {op.get('path')} does not apply: {error}")
    return doc


# --- the store ---------------------------------------------------------------------------

def key_of(group, plural, namespace, name):
    return (group, plural, namespace or "", name)


def objects(group, plural, namespace=None):
    return [o for (g, p, ns, _), o in sorted(STORE.items()) if g == group and p == plural and (namespace is None or ns == namespace)]


def template_hash(template):
    t = copy.deepcopy(template or {})
    t.get("metadata", {}).get("labels", {}).pop("pod-template-hash", None)
    digest = hashlib.sha256(json.dumps(t, sort_keys=True).encode()).hexdigest()
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    number = int(digest[:16], 16)
    out = ""
    while len(out) < 10:
        out += alphabet[number % len(alphabet)]
        number //= len(alphabet)
    return out


def without_empty(value):
    """Typed round trips add empty structs (`resources: {}`); the real server's defaulting makes
    both sides equal, so templates are compared without empty values."""
    if isinstance(value, dict):
        pruned = {k: without_empty(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [without_empty(v) for v in value]
    return value


def normalized_template(template):
    t = copy.deepcopy(template or {})
    t.setdefault("metadata", {}).setdefault("labels", {}).pop("pod-template-hash", None)
    return json.dumps(without_empty(t), sort_keys=True)


def suffix(n=5):
    return "".join(random.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(n))


def owner_ref(obj, kind, api):
    return {"apiVersion": api, "kind": kind, "name": obj["metadata"]["name"], "uid": obj["metadata"]["uid"], "controller": True,
            "blockOwnerDeletion": True}


def owned_by(obj, owner):
    return any(r.get("uid") == owner["metadata"]["uid"] and r.get("controller") for r in obj["metadata"].get("ownerReferences", []))


def stamp_new(obj, group, version, kind, namespace):
    meta = obj.setdefault("metadata", {})
    obj["apiVersion"], obj["kind"] = api_version(group, version), kind
    if namespace:
        meta["namespace"] = namespace
    if not meta.get("name") and meta.get("generateName"):
        meta["name"] = meta["generateName"] + suffix()
    meta["uid"] = str(uuid.uuid4())
    meta["creationTimestamp"] = meta.get("creationTimestamp") or now()
    meta["resourceVersion"] = next_version()
    meta["generation"] = 1
    return obj


def prune_nulls(value):
    """As the API server's typed decoding does: a null field is an absent field."""
    if isinstance(value, dict):
        return {k: prune_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [prune_nulls(v) for v in value]
    return value


def put_object(group, plural, obj, dry_run=False):
    if dry_run:
        return
    meta = obj["metadata"]
    STORE[key_of(group, plural, meta.get("namespace"), meta["name"])] = obj


def sync_pods(rs, dry_run):
    """Keeps a ReplicaSet's pods at its replica count (all Running and ready)."""
    ns = rs["metadata"]["namespace"]
    pods = [p for p in objects("", "pods", ns) if owned_by(p, rs)]
    want = rs["spec"].get("replicas", 1)
    for pod in pods[want:]:
        if not dry_run:
            STORE.pop(key_of("", "pods", ns, pod["metadata"]["name"]), None)
    template = rs["spec"].get("template", {})
    for _ in range(want - len(pods)):
        meta = copy.deepcopy(template.get("metadata", {}))
        meta["name"] = f'{rs["metadata"]["name"]}-{suffix()}'
        meta["ownerReferences"] = [owner_ref(rs, "ReplicaSet", "apps/v1")]
        spec = copy.deepcopy(template.get("spec", {}))
        spec.setdefault("nodeName", "node-1")
        containers = spec.get("containers", [])
        pod = stamp_new({"metadata": meta, "spec": spec}, "", "v1", "Pod", ns)
        pod["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
                         "containerStatuses": [{"name": c.get("name", ""), "image": c.get("image", ""), "ready": True, "restartCount": 0,
                                                "state": {"running": {"startedAt": now()}}} for c in containers],
                         "startTime": now()}
        put_object("", "pods", pod, dry_run)
    count = min(want, len(pods)) if dry_run else len([p for p in objects("", "pods", ns) if owned_by(p, rs)])
    rs["status"] = {"replicas": count, "readyReplicas": count, "availableReplicas": count, "fullyLabeledReplicas": count,
                    "observedGeneration": rs["metadata"].get("generation", 1)}


def reconcile_deployment(deployment, dry_run=False):
    """The deployment controller, run synchronously after every write to a Deployment."""
    ns = deployment["metadata"]["namespace"]
    spec = deployment.setdefault("spec", {})
    replicas = spec.setdefault("replicas", 1)
    template = spec.get("template", {})
    owned = [rs for rs in objects("apps", "replicasets", ns) if owned_by(rs, deployment)]
    if dry_run:
        owned = copy.deepcopy(owned)  # a dry run changes nothing that is stored
    revision = lambda rs: int(rs["metadata"].get("annotations", {}).get("deployment.kubernetes.io/revision", "0"))
    current = next((rs for rs in owned if normalized_template(rs["spec"].get("template")) == normalized_template(template)), None)
    if spec.get("paused"):
        current = current or (max(owned, key=revision) if owned else None)
    else:
        highest = max([revision(rs) for rs in owned], default=0)
        if current is None:
            h = template_hash(template)
            rs_template = copy.deepcopy(template)
            rs_template.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = h
            selector = copy.deepcopy(spec.get("selector", {}))
            selector.setdefault("matchLabels", {})["pod-template-hash"] = h
            annotations = {"deployment.kubernetes.io/revision": str(highest + 1),
                           "deployment.kubernetes.io/desired-replicas": str(replicas)}
            cause = deployment["metadata"].get("annotations", {}).get("kubernetes.io/change-cause")
            if cause:
                annotations["kubernetes.io/change-cause"] = cause
            current = stamp_new({"metadata": {"name": f'{deployment["metadata"]["name"]}-{h}',
                                              "labels": dict(rs_template["metadata"]["labels"]), "annotations": annotations,
                                              "ownerReferences": [owner_ref(deployment, "Deployment", "apps/v1")]},
                                 "spec": {"replicas": replicas, "selector": selector, "template": rs_template}},
                                "apps", "v1", "ReplicaSet", ns)
            owned.append(current)
        elif revision(current) < highest:
            # A rollback: the matching ReplicaSet becomes the newest revision again.
            current["metadata"].setdefault("annotations", {})["deployment.kubernetes.io/revision"] = str(highest + 1)
            current["metadata"]["resourceVersion"] = next_version()
        for rs in owned:
            want = replicas if rs is current else 0
            if rs["spec"].get("replicas") != want:
                rs["spec"]["replicas"] = want
                rs["metadata"]["resourceVersion"] = next_version()
            sync_pods(rs, dry_run)
            put_object("apps", "replicasets", rs, dry_run)
    if current is not None:
        deployment["metadata"].setdefault("annotations", {})["deployment.kubernetes.io/revision"] = \
            current["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
    ready = current["status"].get("readyReplicas", 0) if current is not None and "status" in current else 0
    conditions = [{"type": "Available", "status": "True" if ready >= replicas else "False", "reason": "MinimumReplicasAvailable",
                   "lastUpdateTime": now(), "lastTransitionTime": now()}]
    if spec.get("paused"):
        conditions.append({"type": "Progressing", "status": "Unknown", "reason": "DeploymentPaused",
                           "lastUpdateTime": now(), "lastTransitionTime": now()})
    else:
        conditions.append({"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                           "message": f'ReplicaSet "{current["metadata"]["name"]}" has successfully progressed.' if current else "",
                           "lastUpdateTime": now(), "lastTransitionTime": now()})
    deployment["status"] = {"observedGeneration": deployment["metadata"].get("generation", 1), "replicas": ready,
                            "updatedReplicas": ready, "readyReplicas": ready, "availableReplicas": ready, "conditions": conditions}


def after_write(group, plural, obj, dry_run):
    if (group, plural) == ("apps", "deployments"):
        reconcile_deployment(obj, dry_run)
    elif (group, plural) == ("apps", "replicasets") and not any(r.get("kind") == "Deployment" for r in obj["metadata"].get("ownerReferences", [])):
        sync_pods(obj, dry_run)


def spec_changed(old, new):
    strip = lambda o: {k: v for k, v in o.items() if k not in ("metadata", "status", "apiVersion", "kind")}
    return strip(old) != strip(new)


def validate(kind, obj):
    meta = obj.get("metadata", {})
    if not meta.get("name"):
        raise APIError(422, "Invalid", f"{kind} is invalid: metadata.name: Required value: name or generateName is required")
    if not re.match(r'^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$', meta["name"]):
        raise APIError(422, "Invalid", f'{kind} "{meta["name"]}" is invalid: metadata.name: Invalid value')
    if kind == "Deployment":
        spec = obj.get("spec", {})
        if spec.get("replicas", 1) < 0:
            raise APIError(422, "Invalid", f'Deployment.apps "{meta["name"]}" is invalid: spec.replicas: Invalid value: '
                                           f'{spec["replicas"]}: must be greater than or equal to 0')
        template_labels = spec.get("template", {}).get("metadata", {}).get("labels", {})
        if not labels_match(template_labels, selector_requirements(spec.get("selector"))):
            raise APIError(422, "Invalid", f'Deployment.apps "{meta["name"]}" is invalid: spec.template.metadata.labels: Invalid value: '
                                           '`selector` does not match template `labels`')
        for container in spec.get("template", {}).get("spec", {}).get("containers", []):
            if not container.get("image"):
                raise APIError(422, "Invalid", f'Deployment.apps "{meta["name"]}" is invalid: spec.template.spec.containers: '
                                               'Required value: image')


# --- HTTP --------------------------------------------------------------------------------

def discovery_resources(group, version):
    out = []
    for (g, v, plural), (kind, namespaced, short, subs) in RESOURCES.items():
        if (g, v) != (group, version):
            continue
        out.append({"name": plural, "singularName": kind.lower(), "namespaced": namespaced, "kind": kind, "verbs": VERBS,
                    "shortNames": short, **({"categories": ["all"]} if plural in ("pods", "services", "deployments", "replicasets") else {})})
        for sub in subs:
            entry = {"name": f"{plural}/{sub}", "singularName": "", "namespaced": namespaced, "kind": kind, "verbs": ["get", "patch", "update"]}
            if sub == "scale":
                entry.update({"group": "autoscaling", "version": "v1", "kind": "Scale"})
            if sub == "log":
                entry.update({"kind": "Pod", "verbs": ["get"]})
            out.append(entry)
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": api_version(group, version), "resources": out}


def groups():
    seen = {}
    for (g, v, _) in RESOURCES:
        if g:
            seen.setdefault(g, [])
            if v not in seen[g]:
                seen[g].append(v)
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
        {"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in vs],
         "preferredVersion": {"groupVersion": f"{g}/{vs[0]}", "version": vs[0]}} for g, vs in seen.items()]}


def route(path):
    """(group, version, namespace, plural, name, subresource) or None."""
    parts = [unquote(p) for p in path.strip("/").split("/")]
    if parts[0] == "api" and len(parts) >= 3:
        group, version, rest = "", parts[1], parts[2:]
    elif parts[0] == "apis" and len(parts) >= 4:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces" and (group, version, rest[2]) in RESOURCES:
        namespace, rest = rest[1], rest[2:]
    plural = rest[0]
    if (group, version, plural) not in RESOURCES:
        return None
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    return group, version, namespace, plural, name, sub


def scale_of(obj, group, plural):
    meta = obj["metadata"]
    selector = ",".join(f"{k}={v}" for k, v in sorted(obj["spec"].get("selector", {}).get("matchLabels", {}).items()))
    return {"kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {"name": meta["name"], "namespace": meta.get("namespace"), "uid": meta["uid"],
                         "resourceVersion": meta["resourceVersion"], "creationTimestamp": meta["creationTimestamp"]},
            "spec": {"replicas": obj["spec"].get("replicas", 1)},
            "status": {"replicas": obj.get("status", {}).get("replicas", 0), "selector": selector}}


def from_scale(existing, scale, group, plural):
    """The object a Scale write makes, as the scale subresource does: replicas and the resourceVersion
    (the precondition) move over; a different uid is a failed precondition."""
    if not isinstance(scale, dict):
        raise APIError(400, "BadRequest", "the body of a Scale write must be an object")
    meta = scale.get("metadata") or {}
    name, uid = existing["metadata"]["name"], existing["metadata"]["uid"]
    if meta.get("uid") and meta["uid"] != uid:
        raise APIError(409, "Conflict", f'Operation cannot be fulfilled on {plural}/scale.{group} "{name}": Precondition failed: '
                                        f'UID in precondition: {meta["uid"]}, UID in object meta: {uid}',
                       {"name": name, "group": group, "kind": f"{plural}/scale"})
    updated = copy.deepcopy(existing)
    updated["spec"]["replicas"] = (scale.get("spec") or {}).get("replicas", 0)
    updated["metadata"]["resourceVersion"] = meta.get("resourceVersion")
    return updated


def conflict(group, plural, name, why):
    return APIError(409, "Conflict", f'Operation cannot be fulfilled on {plural}{"." + group if group else ""} "{name}": {why}',
                    {"name": name, **({"group": group} if group else {}), "kind": plural})


def storage_key(group, plural, obj):
    """The etcd key, as a storage error names it: built-in groups are stored without their group."""
    namespace = obj["metadata"].get("namespace")
    return "/registry/" + (group + "/" if "." in group else "") + plural + (f"/{namespace}" if namespace else "") + "/" + obj["metadata"]["name"]


def check_delete_preconditions(group, plural, existing, preconditions):
    """DeleteOptions.preconditions (uid, resourceVersion), checked on dry runs too."""
    name = existing["metadata"]["name"]
    for field, label in (("uid", "UID"), ("resourceVersion", "ResourceVersion")):
        wanted = preconditions.get(field)
        if wanted is not None and wanted != existing["metadata"].get(field):
            raise conflict(group, plural, name, f'StorageError: invalid object, Code: 4, Key: {storage_key(group, plural, existing)}, '
                                                f'ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: {label} in precondition: '
                                                f'{wanted}, {label} in object meta: {existing["metadata"].get(field)}')


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send_json(self, code, payload, content_type="application/json"):
        body = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def send_text(self, code, text):
        body = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def authenticated(self):
        if not OPTIONS.token and not OPTIONS.client_ca:
            return True
        header = self.headers.get("Authorization", "")
        if OPTIONS.token and header == f"Bearer {OPTIONS.token}":
            return True
        if OPTIONS.client_ca and isinstance(self.connection, ssl.SSLSocket) and self.connection.getpeercert():
            return True
        return False

    def handle_any(self):
        length = int(self.headers.get("Content-Length", "0") or 0)
        raw = self.rfile.read(length) if length else b""
        url = urlparse(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        try:
            if url.path.startswith("/_double/"):
                return self.double(url.path, raw)
            if not self.authenticated():
                raise APIError(401, "Unauthorized", "Unauthorized")
            with LOCK:
                counter = COUNTER[0]
                try:
                    self.api(url.path, query, raw)
                finally:
                    # A dry run moves no resourceVersion on, whatever the controller computed for it.
                    if query.get("dryRun") == "All":
                        COUNTER[0] = counter
        except APIError as error:
            self.send_json(error.code, error.status())
        except json.JSONDecodeError as error:
            self.send_json(400, APIError(400, "BadRequest", f"the body is not JSON: {error}").status())

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any

    def double(self, path, raw):
        with LOCK:
            if path == "/_double/requests":
                return self.send_json(200, REQUESTS)
            if path == "/_double/reset" and self.command == "POST":
                STORE.clear()
                REQUESTS.clear()
                return self.send_json(200, {})
            if path == "/_double/seed" and self.command == "POST":
                for obj in json.loads(raw):
                    seed(obj)
                return self.send_json(200, {})
        self.send_json(404, APIError(404, "NotFound", path).status())

    def api(self, path, query, raw):
        method = self.command
        if method == "GET":
            if path == "/version":
                return self.send_json(200, {"major": "1", "minor": "32", "gitVersion": "v1.32.0-meshwatchd-double",
                                            "platform": "linux/amd64", "goVersion": "go1.23"})
            if path == "/api":
                return self.send_json(200, {"kind": "APIVersions", "versions": ["v1"],
                                            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]})
            if path == "/apis":
                return self.send_json(200, groups())
            if path == "/api/v1":
                return self.send_json(200, discovery_resources("", "v1"))
            m = re.match(r"^/apis/([^/]+)/([^/]+)$", path)
            if m and any((m.group(1), m.group(2)) == (g, v) for (g, v, _) in RESOURCES):
                return self.send_json(200, discovery_resources(m.group(1), m.group(2)))
            if path.startswith("/openapi"):
                raise APIError(404, "NotFound", "the double serves no OpenAPI documents")
        target = route(path)
        if target is None:
            raise APIError(404, "NotFound", f"the server could not find the requested resource ({method} {path})")
        group, version, namespace, plural, name, sub = target
        kind, namespaced, _, subs = RESOURCES[(group, version, plural)]
        dry_run = query.get("dryRun") == "All"
        options = {}
        if method == "DELETE" and raw.strip():
            # kubectl sends DeleteOptions as the body, dryRun included; the body's fields win over the query's.
            options = json.loads(raw)
            if not isinstance(options, dict):
                raise APIError(400, "BadRequest", "the body of a DELETE must be DeleteOptions")
            if "dryRun" in options:
                dry_run = "All" in (options["dryRun"] or [])
        if method != "GET":
            raw_path, _, raw_query = self.path.partition("?")
            REQUESTS.append({"method": method, "path": path, "query": query, "contentType": self.headers.get("Content-Type", ""),
                             "body": raw.decode("utf-8", "replace"), "dryRun": dry_run, "rawPath": raw_path, "rawQuery": raw_query})
        if name is None:
            if method == "GET":
                return self.list(group, version, namespace, plural, kind, query)
            if method == "POST":
                return self.create(group, version, namespace, plural, kind, json.loads(raw or b"{}"), dry_run)
            raise APIError(405, "MethodNotAllowed", f"{method} is not supported on collections")
        if sub is not None and sub not in subs:
            raise APIError(404, "NotFound", f"the server could not find the requested resource ({sub})")
        existing = STORE.get(key_of(group, plural, namespace, name))
        if existing is None:
            raise not_found(plural, name, group)
        if method == "GET":
            if sub == "scale":
                return self.send_json(200, scale_of(existing, group, plural))
            if sub == "log":
                text = existing["metadata"].get("annotations", {}).get("test.meshwatchd.dev/log", "")
                lines = text.splitlines(keepends=True)
                if "tailLines" in query:
                    lines = lines[-int(query["tailLines"]):] if int(query["tailLines"]) > 0 else []
                return self.send_text(200, "".join(lines))
            return self.send_json(200, existing)
        if method == "DELETE":
            check_delete_preconditions(group, plural, existing, options.get("preconditions") or {})
            if not dry_run:
                del STORE[key_of(group, plural, namespace, name)]
            return self.send_json(200, existing)
        body = json.loads(raw or b"{}")
        if method == "PUT":
            if not isinstance(body, dict):
                raise APIError(400, "BadRequest", "the body of a PUT must be an object")
            if sub == "scale":
                return self.write(group, plural, kind, existing, from_scale(existing, body, group, plural), dry_run, sub)
            # A PUT's uid is a storage precondition, checked before anything else (a PATCH's is validation's).
            uid = (body.get("metadata") or {}).get("uid")
            if uid and uid != existing["metadata"]["uid"]:
                raise conflict(group, plural, existing["metadata"]["name"],
                               f'StorageError: invalid object, Code: 4, Key: {storage_key(group, plural, existing)}, ResourceVersion: 0, '
                               f'AdditionalErrorMsg: Precondition failed: UID in precondition: {uid}, UID in object meta: {existing["metadata"]["uid"]}')
            return self.write(group, plural, kind, existing, body, dry_run, sub)
        if method == "PATCH":
            content_type = self.headers.get("Content-Type", "").split(";")[0].strip()
            source = scale_of(existing, group, plural) if sub == "scale" else existing
            if content_type == "application/merge-patch+json":
                patched = merge_patch(source, body)
            elif content_type == "application/json-patch+json":
                patched = json_patch(source, body)
            elif content_type == "application/strategic-merge-patch+json":
                if group not in ("", "apps", "autoscaling") and sub != "scale":
                    raise APIError(415, "UnsupportedMediaType", "strategic merge patch is not supported for custom resources")
                patched = strategic_merge(source, body)
            else:
                raise APIError(415, "UnsupportedMediaType", f"the body of the request was in an unknown format - accepted media types include: "
                                                            "application/json-patch+json, application/merge-patch+json, "
                                                            "application/strategic-merge-patch+json")
            if sub == "scale":
                patched = from_scale(existing, patched, group, plural)
            return self.write(group, plural, kind, existing, patched, dry_run, sub)
        raise APIError(405, "MethodNotAllowed", f"{method} is not supported")

    def list(self, group, version, namespace, plural, kind, query):
        requirements = parse_label_selector(query.get("labelSelector", ""))
        items = [o for o in objects(group, plural, namespace)
                 if labels_match(o["metadata"].get("labels", {}), requirements) and fields_match(o, query.get("fieldSelector", ""))]
        metadata = {"resourceVersion": str(COUNTER[0])}
        if "limit" in query and int(query["limit"]) > 0:
            # Pages as the API server serves them: an opaque continue token while more remain.
            start = int(query.get("continue") or 0)
            end = start + int(query["limit"])
            if end < len(items):
                metadata["continue"] = str(end)
            items = items[start:end]
        self.send_json(200, {"kind": f"{kind}List", "apiVersion": api_version(group, version),
                             "metadata": metadata, "items": items})

    def create(self, group, version, namespace, plural, kind, obj, dry_run):
        _, namespaced, _, _ = RESOURCES[(group, version, plural)]
        meta = obj.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + suffix()
        validate(kind, obj)
        if namespaced and namespace is None:
            raise APIError(400, "BadRequest", "a namespace is required")
        if meta.get("namespace") and namespace and meta["namespace"] != namespace:
            raise APIError(400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request")
        if STORE.get(key_of(group, plural, namespace, meta["name"])) is not None:
            raise APIError(409, "AlreadyExists", f'{plural}{"." + group if group else ""} "{meta["name"]}" already exists',
                           {"name": meta["name"], "group": group, "kind": plural})
        meta.pop("resourceVersion", None)
        obj = stamp_new(prune_nulls(obj), group, version, kind, namespace if namespaced else None)
        after_write(group, plural, obj, dry_run)
        put_object(group, plural, obj, dry_run)
        if dry_run:
            obj["metadata"].pop("resourceVersion")  # as the real server: only storage assigns one
        self.send_json(201, obj)

    def write(self, group, plural, kind, existing, updated, dry_run, sub):
        """Stores `updated` (the PUT body, the patched object, or what a Scale makes) over `existing`.

        As the API server's update: the new object's own resourceVersion, from a PUT body or carried by a
        patch, is the precondition (none: unconditional); the server then sets the next one. A dry run
        answers what the write would give, with the unchanged resourceVersion, and stores nothing."""
        if not isinstance(updated, dict):
            raise APIError(400, "BadRequest", "the patched object is not an object")
        updated = prune_nulls(copy.deepcopy(updated))
        meta = updated.setdefault("metadata", {})
        precondition = meta.get("resourceVersion")
        if precondition and precondition != existing["metadata"]["resourceVersion"]:
            raise conflict(group, plural, existing["metadata"]["name"],
                           "the object has been modified; please apply your changes to the latest version and try again")
        uid = meta.get("uid")
        if uid and uid != existing["metadata"]["uid"]:
            qualified = f'{existing["kind"]}{"." + group if group else ""}'
            raise APIError(422, "Invalid", f'{qualified} "{existing["metadata"]["name"]}" is invalid: metadata.uid: Invalid value: '
                                           f'{json.dumps(uid)}: field is immutable',
                           {"name": existing["metadata"]["name"], **({"group": group} if group else {}), "kind": existing["kind"],
                            "causes": [{"reason": "FieldValueInvalid", "message": f"Invalid value: {json.dumps(uid)}: field is immutable",
                                        "field": "metadata.uid"}]})
        # Identity and server-set fields stay the server's (an absent uid is the existing one).
        for field in ("name", "namespace", "uid", "creationTimestamp"):
            if field in existing["metadata"]:
                meta[field] = existing["metadata"][field]
        updated["apiVersion"], updated["kind"] = existing["apiVersion"], existing["kind"]
        if sub == "status":
            merged = copy.deepcopy(existing)
            merged["status"] = updated.get("status", {})
            updated, meta = merged, merged["metadata"]
        elif "status" in existing and sub != "scale":
            updated["status"] = existing["status"]
        validate(kind, updated)
        meta["generation"] = existing["metadata"].get("generation", 1) + (1 if spec_changed(existing, updated) and sub != "status" else 0)
        meta["resourceVersion"] = existing["metadata"]["resourceVersion"] if dry_run else next_version()
        if sub != "status":
            after_write(group, plural, updated, dry_run)
        put_object(group, plural, updated, dry_run)
        self.send_json(200, scale_of(updated, group, plural) if sub == "scale" else updated)


def seed(obj):
    """Creates an object as a client would (the controller runs), keeping a given creationTimestamp and status.

    Seed-only directives (never part of the API) write history with a chosen clock:
    {"_double": "clock", "at": "2026-01-01T10:00:00Z" | null} stamps what follows with that time;
    {"_double": "patch", "path": API path, "type": "merge" | "strategic" | "json", "body": …} patches as a client would;
    {"_double": "pod_status", "namespace": …, "selector": …, "status": {…}} merges into matching pods' status."""
    directive = obj.get("_double")
    if directive == "clock":
        CLOCK[0] = obj.get("at")
        return
    if directive == "patch":
        target = route(obj["path"])
        group, version, namespace, plural, name, _ = target
        existing = STORE[key_of(group, plural, namespace, name)]
        patched = {"merge": merge_patch, "strategic": strategic_merge, "json": json_patch}[obj.get("type", "strategic")](existing, obj["body"])
        patched = prune_nulls(patched)
        patched["metadata"]["resourceVersion"] = next_version()
        if spec_changed(existing, patched):
            patched["metadata"]["generation"] = existing["metadata"].get("generation", 1) + 1
        after_write(group, plural, patched, False)
        put_object(group, plural, patched)
        return
    if directive == "pod_status":
        requirements = parse_label_selector(obj.get("selector", ""))
        for pod in objects("", "pods", obj["namespace"]):
            if labels_match(pod["metadata"].get("labels", {}), requirements):
                pod["status"] = merge_patch(pod.get("status", {}), obj["status"])
        return
    api, kind = obj["apiVersion"], obj["kind"]
    group, version = (api.split("/") + [""])[:2] if "/" in api else ("", api)
    g, v, plural = KIND_TO_RESOURCE[kind]
    _, namespaced, _, _ = RESOURCES[(g, v, plural)]
    namespace = obj["metadata"].get("namespace", "default") if namespaced else None
    status = obj.get("status")
    obj = stamp_new(copy.deepcopy(obj), g, v, kind, namespace)
    after_write(g, plural, obj, False)
    if status is not None and kind not in ("Deployment", "ReplicaSet"):
        obj["status"] = status
    put_object(g, plural, obj)


def main():
    global OPTIONS
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0, help="0: a free port, printed as the first line")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--client-ca")
    parser.add_argument("--token")
    parser.add_argument("--seed", help="a JSON file with a list of objects to create at start")
    OPTIONS = parser.parse_args()
    if OPTIONS.seed:
        with open(OPTIONS.seed) as f:
            for obj in json.load(f):
                seed(obj)
    server = ThreadingHTTPServer(("127.0.0.1", OPTIONS.port), Handler)
    server.daemon_threads = True
    if OPTIONS.cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(OPTIONS.cert, OPTIONS.key)
        if OPTIONS.client_ca:
            context.load_verify_locations(OPTIONS.client_ca)
            context.verify_mode = ssl.CERT_OPTIONAL
        server.socket = context.wrap_socket(server.socket, server_side=True)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
