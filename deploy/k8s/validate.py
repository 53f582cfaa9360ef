#!/usr/bin/env python3
"""Renders deploy/k8s and its overlays with `kubectl kustomize` and validates what they install.

    .build/tools/bin/python deploy/k8s/validate.py                  # base (deploy/k8s) and every overlays/*
    .build/tools/bin/python deploy/k8s/validate.py servicemonitor   # some of them: base, analyze, example, ...
    .build/tools/bin/python deploy/k8s/validate.py --file x.yaml    # the objects of a file, unrendered

Every object of Kubernetes's own kinds goes through kubernetes-validate --strict (Kubernetes 1.32's
schemas: an unknown field is an error); the ServiceMonitor through PyPI jsonschema against the CRD's
schema vendored in overlays/servicemonitor/schema/ (kubernetes-validate has no CRD schemas), with every object
that lists its properties treated as closed, so a misspelt field is refused as the API server refuses
it under `kubectl apply --validate=strict`. Any other kind is an error: there is nothing to check it
against. Then, on each rendering: no `replace-me` placeholder; every namespaced object names its
namespace; the Secret the Deployment mounts, where the rendering has it, holds every file the
ConfigMap's config.json reads from /etc/meshwatchd/secrets/; the ServiceMonitor selects a Service of
the rendering by a named port; the prometheus.io/port annotation is a port of the pod.

The overlays are rendered from a temporary copy of deploy/k8s in which overlays/example/make-secrets.sh
has written throwaway secrets: the checkout's own overlays/example/secrets/ is never read or written.
Exit status 0 when all is valid, 1 when something is not (each problem on a line naming the overlay,
the object and the field), 2 when a tool is missing.
"""

import argparse
import copy
import json
import os
import re
import shutil
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
SCHEMAS = {("monitoring.coreos.com/v1", "ServiceMonitor"):
           os.path.join(HERE, "overlays", "servicemonitor", "schema", "servicemonitor-v1.schema.json")}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PriorityClass", "StorageClass"}
SECRETS_DIRECTORY = "/etc/meshwatchd/secrets/"
EXAMPLE_WEBHOOK_URL = "https://incidents.example.com/hooks/meshwatchd"
# Overlays that must install everything the pods mount (the base leaves the Secret to the operator).
COMPLETE = {"example"}


def name_of(obj):
    metadata = obj.get("metadata") or {}
    name = metadata.get("name", "?")
    return "%s %s/%s" % (obj.get("kind", "?"), metadata["namespace"], name) if metadata.get("namespace") else "%s %s" % (obj.get("kind", "?"), name)


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
    if not isinstance(obj, dict) or "apiVersion" not in obj or "kind" not in obj:
        return ["(the object): not a Kubernetes object (apiVersion and kind)"]
    key = (obj["apiVersion"], obj["kind"])
    if key in SCHEMAS:
        problems = schema_problems(custom_validator(key), obj)
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
        return ["%s: %s" % (field_path(list(error.path)), error.message)]
    except kubernetes_validate.SchemaNotFoundError as error:
        return ["(the object): %s, and no schema is vendored for it" % error.message]
    return []


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


def rendering_problems(objects):
    """Checks across the objects of one rendering, and notes on it."""
    problems, notes = [], []
    by_kind = {}
    for obj in objects:
        by_kind.setdefault(obj.get("kind"), []).append(obj)
        if obj.get("kind") not in CLUSTER_SCOPED and not (obj.get("metadata") or {}).get("namespace"):
            problems.append("%s: metadata.namespace: missing (it would land in kubectl's current namespace)" % name_of(obj))

    secrets = {(s["metadata"].get("namespace"), s["metadata"]["name"]): s for s in by_kind.get("Secret", [])}
    config_files = set()
    for config_map in by_kind.get("ConfigMap", []):
        text = (config_map.get("data") or {}).get("config.json")
        if text:
            try:
                config_files |= mounted_secret_files(text)
            except ValueError as error:
                problems.append("%s: data.config.json: not JSON: %s" % (name_of(config_map), error))

    for deployment in by_kind.get("Deployment", []):
        namespace = deployment["metadata"].get("namespace")
        template = (deployment.get("spec") or {}).get("template") or {}
        pod = template.get("spec") or {}
        for index, volume in enumerate(pod.get("volumes") or []):
            secret_name = (volume.get("secret") or {}).get("secretName")
            if not secret_name:
                continue
            secret = secrets.get((namespace, secret_name))
            if secret is None:
                # The base: the Secret is the operator's to create (README).
                notes.append("%s mounts Secret %s/%s, which this rendering does not hold: create it before applying"
                             % (name_of(deployment), namespace, secret_name))
                continue
            keys = set((secret.get("data") or {}).keys()) | set((secret.get("stringData") or {}).keys())
            for missing in sorted(config_files - keys):
                problems.append("%s: spec.template.spec.volumes[%d]: Secret %s has no key %s, which config.json reads from %s%s"
                                % (name_of(deployment), index, secret_name, missing, SECRETS_DIRECTORY, missing))
        annotations = (template.get("metadata") or {}).get("annotations") or {}
        if annotations.get("prometheus.io/scrape") == "true":
            ports = {str(p.get("containerPort")) for c in pod.get("containers") or [] for p in c.get("ports") or []}
            if annotations.get("prometheus.io/port") not in ports:
                problems.append("%s: spec.template.metadata.annotations.prometheus.io/port: %r is no containerPort (%s)"
                                % (name_of(deployment), annotations.get("prometheus.io/port"), ", ".join(sorted(ports))))

    services = by_kind.get("Service", [])
    for monitor in by_kind.get("ServiceMonitor", []):
        spec = monitor.get("spec") or {}
        labels = (spec.get("selector") or {}).get("matchLabels") or {}
        namespaces = (spec.get("namespaceSelector") or {}).get("matchNames") or [monitor["metadata"].get("namespace")]
        selected = [s for s in services if s["metadata"].get("namespace") in namespaces
                    and labels.items() <= ((s["metadata"].get("labels") or {}).items())]
        if services and not selected:  # (a file of its own, with no Service, is checked alone)
            problems.append("%s: spec.selector: selects no Service of this rendering" % name_of(monitor))
        for index, endpoint in enumerate(spec.get("endpoints") or []):
            for service in selected:
                names = [p.get("name") for p in (service.get("spec") or {}).get("ports") or []]
                if endpoint.get("port") not in names:
                    problems.append("%s: spec.endpoints[%d].port: %r is no named port of %s (%s)"
                                    % (name_of(monitor), index, endpoint.get("port"), name_of(service), ", ".join(map(str, names))))
    return problems, notes


def check(label, objects, text):
    problems = []
    for obj in objects:
        problems += ["%s: %s" % (name_of(obj), problem) for problem in object_problems(obj)]
    if re.search("replace-me", text, re.IGNORECASE):
        problems.append("replace-me: a placeholder value in what it installs")
    found, notes = rendering_problems([o for o in objects if isinstance(o, dict)])
    problems += found
    if label in COMPLETE:
        problems += notes
        notes = []
    for problem in problems:
        print("validate: FAIL %s: %s" % (label, problem))
    if not problems:
        kinds = sorted({o.get("kind") for o in objects})
        print("validate: ok   %s: %d objects (%s) valid against Kubernetes %s's schemas (strict)%s"
              % (label, len(objects), ", ".join(kinds), KUBERNETES_VERSION[:-2],
                 " and the vendored ServiceMonitor schema (closed)" if "ServiceMonitor" in kinds else ""))
    for note in notes:
        print("validate: note %s: %s" % (label, note))
    return problems


def load(text, label):
    try:
        return [o for o in yaml.safe_load_all(text) if o is not None]
    except yaml.YAMLError as error:
        print("validate: FAIL %s: not YAML: %s" % (label, error))
        return None


def render(copy_root, overlay, kubectl):
    directory = copy_root if overlay == "base" else os.path.join(copy_root, "overlays", overlay)
    run = subprocess.run([kubectl, "kustomize", directory], capture_output=True, text=True)
    if run.returncode != 0:
        print("validate: FAIL %s: kubectl kustomize exited %d: %s" % (overlay, run.returncode, run.stderr.strip()))
        return None
    return run.stdout


def main():
    parser = argparse.ArgumentParser(description="Render deploy/k8s's overlays with kubectl kustomize and validate them.")
    parser.add_argument("overlays", nargs="*", metavar="OVERLAY", help="of %s (default: all)" % ", ".join(OVERLAYS))
    parser.add_argument("--file", action="append", default=[], help="validate this file's objects as they are (no kustomize)")
    parser.add_argument("--kubectl", default=os.environ.get("KUBECTL", "kubectl"))
    parser.add_argument("--keep", action="store_true", help="keep the temporary copy and print where it is")
    arguments = parser.parse_args()
    unknown = [o for o in arguments.overlays if o not in OVERLAYS]
    if unknown:
        parser.error("no overlay %s (there are %s)" % (", ".join(unknown), ", ".join(OVERLAYS)))

    failed = False
    for path in arguments.file:
        with open(path) as f:
            text = f.read()
        objects = load(text, path)
        failed |= objects is None or bool(check(path, objects, text))
    overlays = arguments.overlays or ([] if arguments.file else OVERLAYS)
    if overlays:
        if shutil.which(arguments.kubectl) is None:
            print("validate: kubectl not found (kubectl kustomize renders the overlays; no cluster is needed)")
            return 2
        work = tempfile.mkdtemp(prefix="meshwatchd-k8s-")
        try:
            copy_root = os.path.join(work, "k8s")
            shutil.copytree(HERE, copy_root,
                            ignore=lambda d, names: ["secrets"] if os.path.basename(d) == "example" else [])
            if "example" in overlays:
                made = subprocess.run(["bash", os.path.join(copy_root, "overlays", "example", "make-secrets.sh"), EXAMPLE_WEBHOOK_URL],
                                      capture_output=True, text=True)
                if made.returncode != 0:
                    print("validate: FAIL example: make-secrets.sh exited %d: %s" % (made.returncode, made.stderr.strip()))
                    return 1
            for overlay in overlays:
                text = render(copy_root, overlay, arguments.kubectl)
                objects = None if text is None else load(text, overlay)
                failed |= objects is None or bool(check(overlay, objects, text))
        finally:
            if arguments.keep:
                print("validate: kept %s" % work)
            else:
                shutil.rmtree(work, ignore_errors=True)
    print("validate: %s" % ("FAILED" if failed else "all valid"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
