#!/usr/bin/env python3
"""Renders deploy/k8s, its overlays and a combination of them with `kubectl kustomize` and validates what they install.

    .build/tools/bin/python deploy/k8s/validate.py                  # base (deploy/k8s), every overlays/*, example+servicemonitor+analyze
    .build/tools/bin/python deploy/k8s/validate.py servicemonitor   # some of them: base, analyze, example, ...
    .build/tools/bin/python deploy/k8s/validate.py example+analyze  # an overlay with components/* added to it
    .build/tools/bin/python deploy/k8s/validate.py --file x.yaml    # the objects of a file, unrendered

Every object of Kubernetes's own kinds goes through kubernetes-validate --strict (Kubernetes 1.32's
schemas: an unknown field is an error); the ServiceMonitor through PyPI jsonschema against the CRD's
schema vendored in components/servicemonitor/schema/ (kubernetes-validate has no CRD schemas), with every
object that lists its properties treated as closed, so a misspelt field is refused as the API server
refuses it under `kubectl apply --validate=strict`. Any other kind is an error: there is nothing to check
it against; so is a document that is no object (a bare string, a list) or an object without
metadata.name. Then, on each rendering: no `replace-me` placeholder; every namespaced object names its
namespace; the Secret the Deployment mounts, where the rendering has it, holds every file the
ConfigMap's config.json reads from /etc/meshwatchd/secrets/; each Service selects the Deployment's pods
and its targetPort (a name or a number) is a port of their container; the ServiceMonitor selects a
Service of the rendering and its endpoints name that Service's ports; the prometheus.io/port annotation
is a port of the pod; and no pod both carries prometheus.io/scrape and is scraped by a ServiceMonitor (a
Prometheus doing both would scrape it twice). What each rendering must hold by its name: the base the
prometheus.io/scrape annotation and no Secret; servicemonitor a ServiceMonitor and no prometheus.io/*
annotation; analyze the meshwatchd-analyze ClusterRole and its binding; example the one Secret its
generator makes, under the name with the hash, mounted by the Deployment.

A name joined with "+" is an overlay with components/NAME added (its kustomization.yaml copied with
`components:` extended): "example+servicemonitor+analyze" is what the README says to do to have the
ServiceMonitor and the analyze Role with the example's generated Secret, and is rendered by default.

The overlays are rendered from a temporary copy of deploy/k8s in which overlays/example/make-secrets.sh
has written throwaway secrets: the checkout's own overlays/example/secrets/ is never read or written.
Exit status 0 when all is valid, 1 when something is not (each problem on a line naming the overlay or
file, the object, or the document's index in it when it has no kind and name, and the field), 2 when a
tool is missing.
"""

import argparse
import copy
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
VENV_PYTHON = os.path.join(ROOT, ".build", "tools", "bin", "python")

try:
    import jsonschema
    import kubernetes_validate
    import yaml
except ImportError:
    # Run by another Python: use the tools venv's when there is one.
    if os.path.exists(VENV_PYTHON) and os.path.realpath(sys.executable) != os.path.realpath(VENV_PYTHON) \
            and not os.environ.get("MESHWATCHD_VALIDATE_REEXEC"):
        os.environ["MESHWATCHD_VALIDATE_REEXEC"] = "1"
        os.execv(VENV_PYTHON, [VENV_PYTHON, os.path.abspath(__file__)] + sys.argv[1:])
    sys.stderr.write("validate: needs kubernetes-validate and jsonschema: run scripts/install-deps.sh --test-tools, "
                     "then .build/tools/bin/python deploy/k8s/validate.py\n")
    sys.exit(2)

KUBERNETES_VERSION = "1.32.0"
# "base" is deploy/k8s itself (what `kubectl apply -k deploy/k8s` installs); the others are overlays/NAME.
OVERLAYS = ["base"] + sorted(d for d in os.listdir(os.path.join(HERE, "overlays"))
                             if os.path.isfile(os.path.join(HERE, "overlays", d, "kustomization.yaml")))
# components/NAME: kustomize Components, which an overlay lists to add them (overlays/NAME is the base plus one).
COMPONENTS = sorted(d for d in os.listdir(os.path.join(HERE, "components"))
                    if os.path.isfile(os.path.join(HERE, "components", d, "kustomization.yaml")))
# An overlay with components added, as the README has you combine them: rendered by default too.
COMBINATIONS = ["example+servicemonitor+analyze"]
SCHEMAS = {("monitoring.coreos.com/v1", "ServiceMonitor"):
           os.path.join(HERE, "components", "servicemonitor", "schema", "servicemonitor-v1.schema.json")}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PriorityClass", "StorageClass"}
SECRETS_DIRECTORY = "/etc/meshwatchd/secrets/"
EXAMPLE_WEBHOOK_URL = "https://incidents.example.com/hooks/meshwatchd"
# The Secret the base mounts and the example's secretGenerator makes (as NAME-<hash of its content>).
SECRET_NAME = "meshwatchd-secrets"
GENERATED_SECRET = re.compile(r"^%s-[a-z0-9]{6,}$" % re.escape(SECRET_NAME))
ANALYZE_ROLE = "meshwatchd-analyze"
SCRAPE_ANNOTATION = "prometheus.io/scrape"


def mapping(value):
    """value when it is a mapping, else an empty one: a malformed field is reported where it is checked, never a crash."""
    return value if isinstance(value, dict) else {}


def sequence(value):
    return value if isinstance(value, list) else []


def text_or_none(value):
    return value if isinstance(value, str) and value else None


def describe(value):
    """What a document that is no object is, for the FAIL line."""
    kinds = {str: "a string", list: "a list", bool: "a boolean", int: "a number", float: "a number"}
    what = next((name for kind, name in kinds.items() if isinstance(value, kind)), "a " + type(value).__name__)
    shown = repr(value)
    return "%s (%s)" % (what, shown if len(shown) <= 40 else shown[:37] + "...")


def namespace_of(obj):
    return text_or_none(mapping(obj.get("metadata")).get("namespace"))


def metadata_name(obj):
    return text_or_none(mapping(obj.get("metadata")).get("name"))


def name_of(obj, index):
    """KIND NAMESPACE/NAME, or, for a document with no kind or name to go by, its index in the file or rendering."""
    if not isinstance(obj, dict):
        return "document %d" % index
    kind, name, namespace = text_or_none(obj.get("kind")), metadata_name(obj), namespace_of(obj)
    if kind is None or name is None:
        return "document %d (%s)" % (index, "%s with no metadata.name" % kind if kind else "no kind")
    return "%s %s/%s" % (kind, namespace, name) if namespace else "%s %s" % (kind, name)


def field_path(path):
    text = ""
    for item in path:
        text += "[%d]" % item if isinstance(item, int) else ("." if text else "") + str(item)
    return text or "(the object)"


def closed(schema):
    """The schema with every object that lists properties closed to others, as the API server treats a
    structural schema: unknown fields are pruned (or refused with --validate=strict), unless the schema
    says additionalProperties or x-kubernetes-preserve-unknown-fields."""
    schema = copy.deepcopy(schema)

    def walk(node):
        if isinstance(node, list):
            for item in node:
                walk(item)
            return
        if not isinstance(node, dict):
            return
        if isinstance(node.get("properties"), dict) and "additionalProperties" not in node \
                and not node.get("x-kubernetes-preserve-unknown-fields"):
            node["additionalProperties"] = False
        for prop in (node.get("properties") or {}).values():
            walk(prop)
        for key in ("items", "additionalProperties", "not"):
            walk(node.get(key))
        for key in ("anyOf", "allOf", "oneOf"):
            walk(node.get(key))

    walk(schema)
    return schema


_schemas = {}


def custom_validator(key):
    if key not in _schemas:
        with open(SCHEMAS[key]) as f:
            schema = closed(json.load(f))
        _schemas[key] = jsonschema.Draft202012Validator(schema)
    return _schemas[key]


def schema_problems(validator, obj):
    problems = []
    for error in sorted(validator.iter_errors(obj), key=lambda e: [str(p) for p in e.absolute_path]):
        path = list(error.absolute_path)
        if error.validator == "additionalProperties" and error.validator_value is False and isinstance(error.instance, dict):
            known = set((error.schema.get("properties") or {}).keys())
            for extra in sorted(set(error.instance) - known):
                problems.append("%s: unknown field (known here: %s)" % (field_path(path + [extra]), ", ".join(sorted(known))))
        else:
            problems.append("%s: %s" % (field_path(path), error.message))
    return problems


def object_problems(obj):
    """What is wrong with one object, against its kind's schema."""
    if not isinstance(obj, dict):
        return ["(the object): not a Kubernetes object: %s, not a mapping" % describe(obj)]
    if not text_or_none(obj.get("apiVersion")) or not text_or_none(obj.get("kind")):
        return ["(the object): not a Kubernetes object (apiVersion and kind, both strings)"]
    problems = []
    metadata = obj.get("metadata")
    if metadata is None:
        problems.append("metadata: missing (kubectl apply needs metadata.name)")
    elif not isinstance(metadata, dict):
        problems.append("metadata: %s, not a mapping" % describe(metadata))
    elif metadata_name(obj) is None:
        problems.append("metadata.name: missing or empty (kubectl apply needs it; generateName is for kubectl create)")
    key = (obj["apiVersion"], obj["kind"])
    if key in SCHEMAS:
        problems += schema_problems(custom_validator(key), obj)
        # The CRD's schema leaves metadata open (the API server checks it as ObjectMeta): check it as one.
        try:
            kubernetes_validate.validate({"apiVersion": "v1", "kind": "ConfigMap", "metadata": obj.get("metadata")},
                                         KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            problems.append("%s: %s" % (field_path(list(error.path)), error.message))
        return problems
    try:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        problems.append("%s: %s" % (field_path(list(error.path)), error.message))
    except kubernetes_validate.SchemaNotFoundError as error:
        problems.append("(the object): %s, and no schema is vendored for it" % error.message)
    return problems


def mounted_secret_files(config_json):
    """The file names under /etc/meshwatchd/secrets/ the configuration reads."""
    files = set()

    def walk(node):
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif isinstance(node, str) and node.startswith(SECRETS_DIRECTORY):
            files.add(node[len(SECRETS_DIRECTORY):])

    walk(json.loads(config_json))
    return files


def pod_template(deployment):
    return mapping(mapping(deployment.get("spec")).get("template"))


def pod_labels(deployment):
    return mapping(mapping(pod_template(deployment).get("metadata")).get("labels"))


def pod_annotations(deployment):
    return mapping(mapping(pod_template(deployment).get("metadata")).get("annotations"))


def container_ports(deployment):
    """(name or None, containerPort) of every container of the pod template."""
    pod = mapping(pod_template(deployment).get("spec"))
    return [(port.get("name"), port.get("containerPort"))
            for container in sequence(pod.get("containers")) for port in map(mapping, sequence(mapping(container).get("ports")))]


def mounted_secrets(deployment):
    """(index of the volume, secretName) of every Secret volume of the pod template."""
    pod = mapping(pod_template(deployment).get("spec"))
    return [(index, mapping(volume).get("secretName")) for index, volume in
            enumerate(mapping(v).get("secret") for v in sequence(pod.get("volumes"))) if volume is not None]


def selects(selector, labels):
    """A Service's selector (or a matchLabels) selects these labels: every pair present, and at least one."""
    return bool(selector) and all(labels.get(key) == value for key, value in selector.items())


def rendering_problems(entries):
    """Checks across the objects (NAME, object) of one rendering, and notes on it."""
    problems, notes = [], []
    by_kind = {}
    for name, obj in entries:
        kind = obj.get("kind")
        by_kind.setdefault(kind, []).append((name, obj))
        if kind not in CLUSTER_SCOPED and not namespace_of(obj):
            problems.append("%s: metadata.namespace: missing (it would land in kubectl's current namespace)" % name)

    secrets = {(namespace_of(s), metadata_name(s)): s for _, s in by_kind.get("Secret", [])}
    config_files = set()
    for name, config_map in by_kind.get("ConfigMap", []):
        text = mapping(config_map.get("data")).get("config.json")
        if text is None:
            continue
        if not isinstance(text, str):
            problems.append("%s: data.config.json: %s, not a string" % (name, describe(text)))
            continue
        try:
            config_files |= mounted_secret_files(text)
        except ValueError as error:
            problems.append("%s: data.config.json: not JSON: %s" % (name, error))

    deployments = by_kind.get("Deployment", [])
    for name, deployment in deployments:
        namespace = namespace_of(deployment)
        for index, secret_name in mounted_secrets(deployment):
            if not secret_name:
                continue
            secret = secrets.get((namespace, secret_name))
            if secret is None:
                # The base: the Secret is the operator's to create (README).
                notes.append("%s mounts Secret %s/%s, which this rendering does not hold: create it before applying"
                             % (name, namespace, secret_name))
                continue
            keys = set(mapping(secret.get("data"))) | set(mapping(secret.get("stringData")))
            for missing in sorted(config_files - keys):
                problems.append("%s: spec.template.spec.volumes[%d]: Secret %s has no key %s, which config.json reads from %s%s"
                                % (name, index, secret_name, missing, SECRETS_DIRECTORY, missing))
        annotations = pod_annotations(deployment)
        if annotations.get(SCRAPE_ANNOTATION) == "true":
            ports = {str(number) for _, number in container_ports(deployment)}
            if annotations.get("prometheus.io/port") not in ports:
                port = annotations.get("prometheus.io/port")
                problems.append("%s: spec.template.metadata.annotations.prometheus.io/port: %s is no containerPort (%s)"
                                % (name, "missing" if port is None else repr(port), ", ".join(sorted(ports))))

    # Each Service: the pods of a Deployment, and a targetPort (by name or number) their container has.
    backends = {}
    services = by_kind.get("Service", [])
    for name, service in services:
        spec = mapping(service.get("spec"))
        selector = mapping(spec.get("selector"))
        selected = [(d_name, d) for d_name, d in deployments
                    if namespace_of(d) == namespace_of(service) and selects(selector, pod_labels(d))]
        backends[name] = selected
        if deployments and not selected:  # (a file of its own, with no Deployment, is checked alone)
            problems.append("%s: spec.selector: %s selects the pods of no Deployment of this rendering"
                            % (name, json.dumps(selector, sort_keys=True)))
        for index, port in enumerate(map(mapping, sequence(spec.get("ports")))):
            # No targetPort: the same number as port.
            field, target = ("targetPort", port["targetPort"]) if "targetPort" in port else ("port", port.get("port"))
            field = "spec.ports[%d].%s" % (index, field if field == "targetPort" else "port (no targetPort: the same)")
            for d_name, deployment in selected:
                ports = container_ports(deployment)
                known = ", ".join("%s (%s)" % (n, number) if n else str(number) for n, number in ports) or "none"
                if isinstance(target, bool) or not isinstance(target, (int, str)):
                    problems.append("%s: %s: %r is neither a port name nor a number" % (name, field, target))
                elif isinstance(target, int) and target not in [number for _, number in ports]:
                    problems.append("%s: %s: %d is no containerPort of %s (%s)" % (name, field, target, d_name, known))
                elif isinstance(target, str) and target not in [n for n, _ in ports]:
                    problems.append("%s: %s: %r names no container port of %s (%s)" % (name, field, target, d_name, known))

    for name, monitor in by_kind.get("ServiceMonitor", []):
        spec = mapping(monitor.get("spec"))
        labels = mapping(mapping(spec.get("selector")).get("matchLabels"))
        namespaces = sequence(mapping(spec.get("namespaceSelector")).get("matchNames")) or [namespace_of(monitor)]
        selected = [(s_name, s) for s_name, s in services
                    if namespace_of(s) in namespaces and selects(labels, mapping(mapping(s.get("metadata")).get("labels")))]
        if services and not selected:  # (a file of its own, with no Service, is checked alone)
            problems.append("%s: spec.selector: selects no Service of this rendering" % name)
        for index, endpoint in enumerate(map(mapping, sequence(spec.get("endpoints")))):
            for s_name, service in selected:
                names = [mapping(p).get("name") for p in sequence(mapping(service.get("spec")).get("ports"))]
                if endpoint.get("port") not in [n for n in names if n]:
                    problems.append("%s: spec.endpoints[%d].port: %r is no named port of %s (%s)"
                                    % (name, index, endpoint.get("port"), s_name, ", ".join(map(str, names))))
        # Scraped through the ServiceMonitor and, by annotation, directly: twice by a Prometheus doing both.
        doubled = sorted({d_name for s_name, _ in selected for d_name, d in backends.get(s_name, [])
                          if pod_annotations(d).get(SCRAPE_ANNOTATION) == "true"})
        for d_name in doubled:
            problems.append("%s: spec.template.metadata.annotations.%s: \"true\", and %s scrapes these pods too: a Prometheus "
                            "that also discovers pods by annotation would scrape them twice (components/servicemonitor removes it)"
                            % (d_name, SCRAPE_ANNOTATION, name))
    return problems, notes


def expectation_problems(label, entries):
    """What the rendering named LABEL must hold, by the overlays and components its name joins."""
    parts = set(label.split("+"))
    problems = []
    of_kind = lambda kind: [(name, obj) for name, obj in entries if obj.get("kind") == kind]
    deployments, secrets = of_kind("Deployment"), of_kind("Secret")
    if not deployments:
        problems.append("Deployment: none in this rendering")
    if label == "base":
        # Without prometheus-operator, annotation-based discovery is how Prometheus finds it.
        for name, deployment in deployments:
            if pod_annotations(deployment).get(SCRAPE_ANNOTATION) != "true":
                value = pod_annotations(deployment).get(SCRAPE_ANNOTATION)
                problems.append("%s: spec.template.metadata.annotations.%s: %s, not \"true\": annotation-based scrape "
                                "configurations would not find it" % (name, SCRAPE_ANNOTATION, "missing" if value is None else repr(value)))
    if "servicemonitor" in parts:
        if not of_kind("ServiceMonitor"):
            problems.append("ServiceMonitor: none in this rendering (components/servicemonitor adds it)")
        for name, deployment in deployments:
            left = sorted(key for key in pod_annotations(deployment) if str(key).startswith("prometheus.io/"))
            if left:
                problems.append("%s: spec.template.metadata.annotations: %s left beside the ServiceMonitor "
                                "(components/servicemonitor removes every prometheus.io/* annotation)" % (name, ", ".join(left)))
    if "analyze" in parts:
        if not [1 for _, role in of_kind("ClusterRole") if metadata_name(role) == ANALYZE_ROLE]:
            problems.append("ClusterRole %s: not in this rendering (components/analyze adds it)" % ANALYZE_ROLE)
        if not [1 for _, binding in of_kind("ClusterRoleBinding") if mapping(binding.get("roleRef")).get("name") == ANALYZE_ROLE]:
            problems.append("ClusterRoleBinding: none binds ClusterRole %s (components/analyze adds it)" % ANALYZE_ROLE)
    if "example" in parts:
        if len(secrets) != 1:
            problems.append("Secret: %d in this rendering, not the one the example's secretGenerator makes" % len(secrets))
        for name, secret in secrets:
            secret_name = metadata_name(secret) or ""
            if not GENERATED_SECRET.match(secret_name):
                problems.append("%s: metadata.name: not %s-<hash>: the Deployment would not roll onto a changed Secret"
                                % (name, SECRET_NAME))
            for d_name, deployment in deployments:
                mounted = [n for _, n in mounted_secrets(deployment)]
                if secret_name not in mounted:
                    problems.append("%s: spec.template.spec.volumes: mounts Secret %s, not the generated %s"
                                    % (d_name, ", ".join(map(str, mounted)) or "none", secret_name))
    else:
        for name, _ in secrets:
            problems.append("%s: the base ships no Secret (the operator creates %s; overlays/example generates it)" % (name, SECRET_NAME))
    return problems


def check(label, documents, text, rendering=False):
    """Prints the problems of one file or rendering, documents its (index, object) pairs; returns them."""
    problems, entries = [], []
    for index, obj in documents:
        name = name_of(obj, index)
        problems += ["%s: %s" % (name, problem) for problem in object_problems(obj)]
        if isinstance(obj, dict) and text_or_none(obj.get("kind")) and text_or_none(obj.get("apiVersion")):  # (others: FAIL lines already)
            entries.append((name, obj))
    if re.search("replace-me", text, re.IGNORECASE):
        problems.append("replace-me: a placeholder value in what it installs")
    found, notes = rendering_problems(entries)
    problems += found
    if rendering:
        problems += expectation_problems(label, entries)
        if "example" in label.split("+"):  # a complete set: it must install everything the pods mount
            problems += notes
            notes = []
    for problem in problems:
        print("validate: FAIL %s: %s" % (label, problem))
    if not problems:
        kinds = sorted({str(o.get("kind")) for _, o in entries})
        print("validate: ok   %s: %d objects (%s) valid against Kubernetes %s's schemas (strict)%s"
              % (label, len(documents), ", ".join(kinds), KUBERNETES_VERSION[:-2],
                 " and the vendored ServiceMonitor schema (closed)" if "ServiceMonitor" in kinds else ""))
    for note in notes:
        print("validate: note %s: %s" % (label, note))
    return problems


def checked(label, documents, text, rendering=False):
    """check, with any failure of validate.py itself a FAIL line too, never a traceback."""
    try:
        return bool(check(label, documents, text, rendering))
    except Exception as error:  # a bug here, on input no check foresaw: still a FAIL naming what it was checking
        print("validate: FAIL %s: validate.py could not check it: %s: %s" % (label, type(error).__name__, error))
        return True


def load(text, label):
    """The (index from 1, object) of every non-empty document, or None when it is no YAML."""
    try:
        return [(index, o) for index, o in enumerate(yaml.safe_load_all(text), 1) if o is not None]
    except yaml.YAMLError as error:
        print("validate: FAIL %s: not YAML: %s" % (label, error))
        return None


def directory_of(copy_root, label):
    return copy_root if label == "base" else os.path.join(copy_root, "overlays", label)


def combine(copy_root, label):
    """overlays/LABEL in the copy: the first overlay LABEL names, with the components it names after it
    added to its kustomization's components. None when it is written, else what went wrong."""
    overlay, components = label.split("+")[0], label.split("+")[1:]
    target = directory_of(copy_root, label)
    shutil.copytree(directory_of(copy_root, overlay), target)
    path = os.path.join(target, "kustomization.yaml")
    with open(path) as f:
        kustomization = yaml.safe_load(f)
    if not isinstance(kustomization, dict):
        return "overlays/%s/kustomization.yaml: not a mapping" % overlay
    listed = sequence(kustomization.get("components"))
    kustomization["components"] = listed + ["../../components/" + c for c in components if "../../components/" + c not in listed]
    with open(path, "w") as f:
        yaml.safe_dump(kustomization, f, sort_keys=False)
    return None


def render(copy_root, label, kubectl):
    run = subprocess.run([kubectl, "kustomize", directory_of(copy_root, label)], capture_output=True, text=True)
    if run.returncode != 0:
        print("validate: FAIL %s: kubectl kustomize exited %d: %s" % (label, run.returncode, run.stderr.strip()))
        return None
    return run.stdout


def known(label):
    """base, an overlay, or an overlay joined by "+" to components (each at most once)."""
    if label in OVERLAYS:
        return True
    parts = label.split("+")
    return len(parts) > 1 and parts[0] in OVERLAYS[1:] and all(p in COMPONENTS for p in parts[1:]) \
        and len(set(parts[1:])) == len(parts) - 1


def main():
    if hasattr(signal, "SIGPIPE"):  # `validate.py | head`: stop quietly, as other tools do
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    parser = argparse.ArgumentParser(description="Render deploy/k8s's overlays with kubectl kustomize and validate them.")
    parser.add_argument("overlays", nargs="*", metavar="OVERLAY",
                        help="of %s, or OVERLAY+COMPONENT... with components of %s (default: %s)"
                        % (", ".join(OVERLAYS), ", ".join(COMPONENTS), ", ".join(OVERLAYS + COMBINATIONS)))
    parser.add_argument("--file", action="append", default=[], help="validate this file's objects as they are (no kustomize)")
    parser.add_argument("--kubectl", default=os.environ.get("KUBECTL", "kubectl"))
    parser.add_argument("--keep", action="store_true", help="keep the temporary copy and print where it is")
    arguments = parser.parse_args()
    unknown = [o for o in arguments.overlays if not known(o)]
    if unknown:
        parser.error("no overlay %s (there are %s, and OVERLAY+COMPONENT... with components of %s)"
                     % (", ".join(unknown), ", ".join(OVERLAYS), ", ".join(COMPONENTS)))

    failed = False
    for path in arguments.file:
        try:
            with open(path) as f:
                text = f.read()
        except (OSError, UnicodeDecodeError) as error:
            print("validate: FAIL %s: cannot read it: %s" % (path, error))
            failed = True
            continue
        documents = load(text, path)
        failed |= documents is None or checked(path, documents, text)
    labels = arguments.overlays or ([] if arguments.file else OVERLAYS + COMBINATIONS)
    if labels:
        if shutil.which(arguments.kubectl) is None:
            print("validate: kubectl not found (kubectl kustomize renders the overlays; no cluster is needed)")
            return 2
        work = tempfile.mkdtemp(prefix="meshwatchd-k8s-")
        try:
            copy_root = os.path.join(work, "k8s")
            shutil.copytree(HERE, copy_root,
                            ignore=lambda d, names: ["secrets"] if os.path.basename(d) == "example" else [])
            if any(label.split("+")[0] == "example" for label in labels):
                made = subprocess.run(["bash", os.path.join(copy_root, "overlays", "example", "make-secrets.sh"), EXAMPLE_WEBHOOK_URL],
                                      capture_output=True, text=True)
                if made.returncode != 0:
                    print("validate: FAIL example: make-secrets.sh exited %d: %s" % (made.returncode, made.stderr.strip()))
                    return 1
            for label in labels:
                if "+" in label:
                    try:
                        trouble = combine(copy_root, label)
                    except (OSError, yaml.YAMLError) as error:
                        trouble = "%s: %s" % (type(error).__name__, error)
                    if trouble:
                        print("validate: FAIL %s: cannot combine: %s" % (label, trouble))
                        failed = True
                        continue
                text = render(copy_root, label, arguments.kubectl)
                documents = None if text is None else load(text, label)
                failed |= documents is None or checked(label, documents, text, rendering=True)
        finally:
            if arguments.keep:
                print("validate: kept %s" % work)
            else:
                shutil.rmtree(work, ignore_errors=True)
    print("validate: %s" % ("FAILED" if failed else "all valid"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
