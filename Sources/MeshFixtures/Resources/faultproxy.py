#!/usr/bin/env python3
"""A fault-injecting HTTP proxy for meshwatchd's tests: it stands between a client and a server
(usually the Kubernetes double, kubeapi.py) and makes the network fail the ways a real one does.

Every request is forwarded to --upstream (http:// or https://, loopback) with its method, path
and query exactly as received, headers (hop-by-hop ones aside) and body, and the answer relayed;
unless the first rule that matches it, with times left, says otherwise. Rules, from
POST /_proxy/rules with a JSON list (it replaces the rules):

  {"method": "PATCH", "path": regex searched in the path as sent, "dryRun": true | false
   (whether the query has dryRun=All), "times": N (default: every match), "action": …}

  delay               {"ms": N}: wait, then forward;
  status              {"code": N, "body": optional JSON or text}: answer without forwarding (a
                      metav1.Status with that code unless a body is given);
  forward_then_status {"code": N}: forward, so the write happens, then answer N instead (a
                      write whose outcome the client cannot know);
  forward_then_drop   forward, then close the connection without answering;
  hang                never answer nor forward, until the client gives up;
  hold                {"name": "x"}: wait before forwarding until POST /_proxy/release {"name": "x"}.

Control endpoints under /_proxy/ (never forwarded): POST rules; GET log (every request seen, in
order: method, path, rawQuery, action); GET held (names of the requests held now, in order);
POST release. Listens on 127.0.0.1 only; prints its port as the first line of stdout.
"""
import argparse, http.client, json, re, ssl, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

# Each action and the fields it needs.
ACTIONS = {"delay": ["ms"], "status": ["code"], "forward_then_status": ["code"], "forward_then_drop": [], "hang": [], "hold": ["name"]}
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization", "te", "trailer",
              "transfer-encoding", "upgrade", "host", "content-length"}
REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 409: "Conflict", 422: "Invalid",
           429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout"}

LOCK = threading.Lock()
RULES = []   # the rules, each with "left": how many more requests it applies to (None: all)
LOG = []     # {"method", "path", "rawQuery", "action"} per request seen
HELD = []    # (name, threading.Event) per request held now
UPSTREAM = None


def status_body(code):
    """A metav1.Status as the API server answers with errors."""
    reason = REASONS.get(code, "InternalError" if code >= 500 else "")
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": f"fault injected by the proxy: {code}", "reason": reason, "details": {}, "code": code}


def matching_rule(method, path, query):
    """The first rule that matches with times left (using one of them), or None."""
    dry_run = "All" in parse_qs(query).get("dryRun", [])
    for rule in RULES:
        if rule["left"] == 0 or rule.get("method", method).upper() != method:
            continue
        if "path" in rule and not re.search(rule["path"], path):
            continue
        if "dryRun" in rule and rule["dryRun"] != dry_run:
            continue
        if rule["left"] is not None:
            rule["left"] -= 1
        return rule
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, code, body, content_type="application/json", headers=()):
        data = body if isinstance(body, bytes) else (body.encode() if isinstance(body, str) else json.dumps(body).encode())
        self.send_response(code)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def forward(self, raw):
        """Sends the request upstream as received; returns (status, headers, body)."""
        target = urlsplit(UPSTREAM)
        connection = (http.client.HTTPSConnection(target.hostname, target.port, timeout=60, context=ssl._create_unverified_context())
                      if target.scheme == "https" else http.client.HTTPConnection(target.hostname, target.port, timeout=60))
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            connection.request(self.command, self.path, body=raw if raw or self.command in ("POST", "PUT", "PATCH") else None,
                               headers=headers)
            response = connection.getresponse()
            return response.status, [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP], response.read()
        finally:
            connection.close()

    def handle_any(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0") or 0))
        path, _, query = self.path.partition("?")
        if path.startswith("/_proxy/"):
            return self.control(path, raw)
        with LOCK:
            rule = matching_rule(self.command, path, query)
            action = rule["action"] if rule else "forward"
            LOG.append({"method": self.command, "path": path, "rawQuery": query, "action": action})
        if action == "status":
            body = rule.get("body", status_body(rule["code"]) if rule["code"] >= 400 else "")
            return self.answer(rule["code"], body, "application/json" if not isinstance(body, str) else "text/plain")
        if action == "hang":
            self.close_connection = True
            try:
                while self.connection.recv(1024):  # until the client closes its end
                    pass
            except OSError:
                pass
            return
        if action == "delay":
            time.sleep(rule["ms"] / 1000)
        if action == "hold":
            released = threading.Event()
            with LOCK:
                HELD.append((rule["name"], released))
            released.wait()
        try:
            status, headers, body = self.forward(raw)
        except OSError as error:
            return self.answer(502, {**status_body(502), "message": f"the proxy could not reach {UPSTREAM}: {error}"})
        if action == "forward_then_drop":
            self.close_connection = True
            return
        if action == "forward_then_status":
            return self.answer(rule["code"], status_body(rule["code"]) if rule["code"] >= 400 else "", "application/json")
        content_type = dict((k.lower(), v) for k, v in headers).get("content-type", "application/octet-stream")
        self.answer(status, body, content_type, [(k, v) for k, v in headers if k.lower() not in ("content-type", "date", "server")])

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = handle_any

    def control(self, path, raw):
        try:
            request = json.loads(raw) if raw else None
        except ValueError as error:
            return self.answer(400, {"error": f"the body is not JSON: {error}"})
        with LOCK:
            if path == "/_proxy/rules" and self.command == "POST":
                rules = request or []
                if not isinstance(rules, list) or any(not isinstance(r, dict) or r.get("action") not in ACTIONS
                                                      or any(field not in r for field in ACTIONS[r["action"]]) for r in rules):
                    return self.answer(400, {"error": f"rules are a JSON list of objects with an action and its fields: {ACTIONS}"})
                RULES[:] = [{**r, "left": r.get("times")} for r in rules]
                return self.answer(200, {"rules": len(RULES)})
            if path == "/_proxy/log" and self.command == "GET":
                return self.answer(200, LOG)
            if path == "/_proxy/held" and self.command == "GET":
                return self.answer(200, [name for name, _ in HELD])
            if path == "/_proxy/release" and self.command == "POST":
                name = (request or {}).get("name") if isinstance(request, dict) else None
                released = [event for held, event in HELD if held == name]
                HELD[:] = [(held, event) for held, event in HELD if held != name]
                for event in released:
                    event.set()
                return self.answer(200, {"released": len(released)})
        self.answer(404, {"error": f"no control endpoint {self.command} {path}"})


def main():
    global UPSTREAM
    parser = argparse.ArgumentParser()
    parser.add_argument("--upstream", required=True, help="the server to forward to, e.g. http://127.0.0.1:8080")
    parser.add_argument("--port", type=int, default=0, help="0: a free port, printed as the first line")
    options = parser.parse_args()
    UPSTREAM = options.upstream.rstrip("/")
    if urlsplit(UPSTREAM).scheme not in ("http", "https") or urlsplit(UPSTREAM).hostname not in ("127.0.0.1", "localhost", "::1"):
        parser.error(f"--upstream must be an http(s) URL on loopback, not {UPSTREAM}")
    server = ThreadingHTTPServer(("127.0.0.1", options.port), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
