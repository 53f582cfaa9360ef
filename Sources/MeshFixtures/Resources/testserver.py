#!/usr/bin/env python3
"""A loopback HTTP(S) server for meshwatchd's HTTP client tests.

Prints its port on the first line of stdout, then serves until terminated.
  --cert/--key       serve TLS with this certificate
  --client-ca        require a client certificate signed by this CA
Routes: /echo (the request as JSON), /hang and /hang/… (never answer), /slow?ms=N, /big?bytes=N[&chunked=1],
/status/N (that status, with Retry-After: 7), /series/api/v1/query (a Prometheus vector of N
series for the query `series_N`, built once per N), and any other path ending in /api/v1/query or
/api/v1/query_range answers a Prometheus string result holding the echo. A request line with an absolute URI (as sent to a
proxy) is answered like /echo, so the server doubles as a recording proxy.
"""
import argparse, json, os, socket, ssl, sys, threading, time, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


RECEIVER_LOCK = threading.Lock()
SERIES = {}
ATTEMPTS = {}
DELIVERED = {}
LAST = {}
BODIES = []


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        # TLS handshakes run here, in the connection's own thread, and a refused handshake
        # ends as production servers end it: the alert, then FIN, then draining what the
        # client already sent (under TLS 1.3 its request follows its Finished at once), so
        # the kernel never answers with an RST that would destroy the alert unread.
        if isinstance(self.request, ssl.SSLSocket):
            try:
                self.request.do_handshake()
            except (ssl.SSLError, OSError):
                raw = socket.socket(fileno=os.dup(self.request.fileno()))
                try:
                    raw.shutdown(socket.SHUT_WR)
                    raw.settimeout(2)
                    while raw.recv(65536):
                        pass
                except OSError:
                    pass
                finally:
                    raw.close()
                raise
        super().setup()

    def log_message(self, *args):
        pass

    def respond(self, status, body, headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        target = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(target.query))
        path = target.path
        if path == "/hang" or path.startswith("/hang/"):
            time.sleep(120)
            return
        if path == "/slow":
            time.sleep(int(query.get("ms", "100")) / 1000)
            path = "/echo"
        if path == "/big":
            size = int(query["bytes"])
            if query.get("chunked"):
                self.send_response(200)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                chunk = b"x" * 65536
                sent = 0
                while sent < size:
                    part = chunk[: min(len(chunk), size - sent)]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                    sent += len(part)
                self.wfile.write(b"0\r\n\r\n")
            else:
                self.respond(200, b"x" * size)
            return
        if path == "/receiver":
            # A webhook receiver: per Idempotency-Key, fails `fail` times (503, or 429 with
            # Retry-After when retry_after is given; `status` makes every failure that status),
            # then accepts. GET /deliveries reports what it saw.
            key = self.headers.get("Idempotency-Key", "")
            with RECEIVER_LOCK:
                ATTEMPTS[key] = ATTEMPTS.get(key, 0) + 1
                attempt = ATTEMPTS[key]
            if query.get("status"):
                self.respond(int(query["status"]), b'{"error":"rejected"}')
                return
            if attempt <= int(query.get("fail", "0")):
                if query.get("retry_after"):
                    self.respond(429, b"slow down", [("Retry-After", query["retry_after"])])
                else:
                    self.respond(503, b"unavailable")
                return
            with RECEIVER_LOCK:
                DELIVERED[key] = DELIVERED.get(key, 0) + 1
                LAST.update({"headers": {k.lower(): v for k, v in self.headers.items()}, "body": body.decode("utf-8", "replace"),
                             "time": time.time()})
                BODIES.append(body.decode("utf-8", "replace"))
                del BODIES[:-500]
            self.respond(200, b"ok")
            return
        if path == "/deliveries":
            with RECEIVER_LOCK:
                report = {"attempts": ATTEMPTS, "delivered": DELIVERED, "last": LAST, "bodies": BODIES}
                self.respond(200, json.dumps(report).encode(), [("Content-Type", "application/json")])
            return
        if path == "/series/api/v1/query":
            expression = dict(urllib.parse.parse_qsl(body.decode())).get("query", "")
            count = int(expression[len("series_"):]) if expression.startswith("series_") else 1
            with RECEIVER_LOCK:
                if count not in SERIES:
                    items = ",".join('{"metric":{"__name__":"istio_requests_total","destination_workload":"w%d",'
                                     '"destination_workload_namespace":"bookinfo","destination_service":"w%d.bookinfo.svc.cluster.local",'
                                     '"response_code":"503","reporter":"destination"},"value":[1700000000,"%d"]}' % (i, i, i)
                                     for i in range(count))
                    SERIES[count] = ('{"status":"success","data":{"resultType":"vector","result":[%s]}}' % items).encode()
                answer = SERIES[count]
            self.respond(200, answer, [("Content-Type", "application/json")])
            return
        if path.startswith("/status/"):
            status = int(path.split("/")[2])
            self.respond(status, b'{"error":"told to fail"}', [("Retry-After", "7")])
            return
        cert = None
        if isinstance(self.connection, ssl.SSLSocket):
            peer = self.connection.getpeercert()
            if peer:
                cert = dict(x[0] for x in peer.get("subject", ()))
        echo = {
            "method": self.command,
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body.decode("utf-8", "replace"),
            "client_port": self.client_address[1],
            "client_cert": cert,
        }
        if path.endswith("/api/v1/query") or path.endswith("/api/v1/query_range"):
            result = {"status": "success", "data": {"resultType": "string", "result": [0, json.dumps(echo)]}}
            self.respond(200, json.dumps(result).encode(), [("Content-Type", "application/json")])
            return
        self.respond(200, json.dumps(echo).encode(), [("Content-Type", "application/json"), ("X-Test", "yes")])

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--client-ca")
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if args.cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.cert, args.key)
        if args.client_ca:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(args.client_ca)
        server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
