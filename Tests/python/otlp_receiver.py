"""A minimal OTLP/HTTP trace receiver for tests and benchmarks.

  otlp_receiver.py serve --port-file PATH --out PATH [--mode ok|hang|fail|flaky|sink]
      Listens on 127.0.0.1 (a free port, written atomically to --port-file once listening) and
      accepts POST /v1/traces as application/x-protobuf or application/json (optionally gzip).
      Appends JSON lines to --out: one {"type":"request",...} per export, then one
      {"type":"span",...} per span it carried. Runs until SIGTERM/SIGINT, then exits 0.
      --mode hang: reads each export and never answers; --mode fail: answers 503 to each export;
      --mode flaky: answers every other export 503 with Retry-After: 0 (a transient refusal, to be retried);
      --mode sink: accepts each export unread (scripts/bench: a collector that costs this machine little),
      writing one line per request with its size.
      In hang, fail and sink, and for a refused flaky export, only the request line is logged (the spans were
      not accepted).
  otlp_receiver.py tree PATH
      Prints the spans of such a file as one indented tree per trace.

Decoding uses the official opentelemetry-proto classes (pinned in Tests/python-requirements.txt).
"""
import argparse
import base64
import gzip
import json
import os
import signal
import sys
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

PROTOBUF = "application/x-protobuf"
JSON = "application/json"


# ---- decoding -------------------------------------------------------------------------------

HEX_DIGITS = set("0123456789abcdefABCDEF")


def _hex_ids_to_base64(obj, keys):
    """OTLP/JSON spells trace and span ids as hex, but protobuf's JSON mapping of `bytes` is
    base64: rewrite the named keys in place so json_format.ParseDict reads them right.
    Ids already in base64 (as exporters built on protobuf's JSON mapping send them) have
    another length (24 or 12 characters) and are left as they are."""
    for key in keys:
        value = obj.get(key)
        if isinstance(value, str) and len(value) in (32, 16) and set(value) <= HEX_DIGITS:
            obj[key] = base64.b64encode(bytes.fromhex(value)).decode("ascii")


def parse_json_request(body):
    document = json.loads(body)
    if not isinstance(document, dict):
        raise ValueError("OTLP/JSON body is not an object")
    for resource_spans in document.get("resourceSpans") or document.get("resource_spans") or []:
        for scope_spans in resource_spans.get("scopeSpans") or resource_spans.get("scope_spans") or []:
            for span in scope_spans.get("spans") or []:
                _hex_ids_to_base64(span, ("traceId", "trace_id", "spanId", "span_id",
                                          "parentSpanId", "parent_span_id"))
                for link in span.get("links") or []:
                    _hex_ids_to_base64(link, ("traceId", "trace_id", "spanId", "span_id"))
    request = ExportTraceServiceRequest()
    # Enum values may be names or ints; ParseDict takes both. Unknown fields must be ignored (spec).
    json_format.ParseDict(document, request, ignore_unknown_fields=True)
    return request


def any_value(value):
    """An OTLP AnyValue as a plain Python value."""
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return attributes(value.kvlist_value.values)
    if kind == "bytes_value":
        return value.bytes_value.hex()
    return getattr(value, kind) if kind else None


def attributes(key_values):
    return {kv.key: any_value(kv.value) for kv in key_values}


def enum_name(enum, number, prefix):
    try:
        return enum.Name(number).removeprefix(prefix)
    except ValueError:  # a number this proto version doesn't know
        return str(number)


def span_records(request):
    for resource_spans in request.resource_spans:
        resource = attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                yield {
                    "type": "span",
                    "trace_id": span.trace_id.hex(),
                    "span_id": span.span_id.hex(),
                    "parent_span_id": span.parent_span_id.hex() or None,
                    "trace_state": span.trace_state or None,
                    "name": span.name,
                    "kind": enum_name(Span.SpanKind, span.kind, "SPAN_KIND_"),
                    "start_unix_nano": span.start_time_unix_nano,
                    "end_unix_nano": span.end_time_unix_nano,
                    "duration_us": (span.end_time_unix_nano - span.start_time_unix_nano) / 1000,
                    "status_code": enum_name(Status.StatusCode, span.status.code, "STATUS_CODE_"),
                    "status_message": span.status.message,
                    "attributes": attributes(span.attributes),
                    # The same, every value as text (numbers and booleans JSON-encoded), for typed readers.
                    "attributes_text": {k: format_value(v) for k, v in attributes(span.attributes).items()},
                    "resource": resource,
                    "scope": scope_spans.scope.name,
                    "events": [event.name for event in span.events],
                }


# ---- server ---------------------------------------------------------------------------------

class Receiver(ThreadingHTTPServer):
    daemon_threads = True  # hanging handlers must not keep the process alive

    def __init__(self, out_path, mode):
        super().__init__(("127.0.0.1", 0), Handler)
        self.mode = mode
        self.out = open(out_path, "a", encoding="utf-8")
        self.out_lock = threading.Lock()
        self.stopping = threading.Event()
        self.posts = 0

    def log_lines(self, records):
        with self.out_lock:
            for record in records:
                self.out.write(json.dumps(record) + "\n")
                self.out.flush()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as OTLP exporters expect

    def log_message(self, format, *args):  # keep stderr quiet
        pass

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            body = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline().strip():  # trailers
                        pass
                    return body
                body += self.rfile.read(size)
                self.rfile.readline()  # CRLF after each chunk
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def reply(self, status, content_type="text/plain", body=b""):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.reply(404, body=b"not found\n")

    def do_POST(self):
        body = self.read_body()
        if self.path.split("?")[0] != "/v1/traces":
            return self.reply(404, body=b"not found\n")
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        headers = {}
        for name, value in self.headers.items():
            name = name.lower()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        request_line = {"type": "request", "path": self.path, "content_type": content_type,
                        "headers": headers}

        if self.server.mode == "sink":
            self.server.log_lines([{"type": "request", "path": self.path, "content_type": content_type, "bytes": len(body)}])
            return self.reply(200, PROTOBUF, b"")
        if self.server.mode == "hang":
            self.server.log_lines([request_line])
            self.server.stopping.wait()  # never answer; woken only to let the process exit
            self.close_connection = True
            return
        if self.server.mode == "fail":
            self.server.log_lines([request_line])
            return self.reply(503, body=b"unavailable (--mode fail)\n")
        if self.server.mode == "flaky":
            with self.server.out_lock:
                self.server.posts += 1
                refuse = self.server.posts % 2 == 1
            if refuse:  # every other export is refused as transient, with a short Retry-After
                self.server.log_lines([{**request_line, "refused": True}])
                self.send_response(503)
                self.send_header("Retry-After", "0")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return

        try:
            if self.headers.get("Content-Encoding", "").lower() == "gzip":
                body = gzip.decompress(body)
            if content_type == PROTOBUF:
                request = ExportTraceServiceRequest.FromString(body)
            elif content_type == JSON:
                request = parse_json_request(body)
            else:
                self.server.log_lines([request_line])
                return self.reply(415, body=b"unsupported content type\n")
            records = [request_line, *span_records(request)]
        except (OSError, EOFError, zlib.error, DecodeError, ValueError, TypeError, AttributeError,
                json_format.ParseError) as error:
            self.server.log_lines([request_line])
            return self.reply(400, body=f"malformed export: {error}\n".encode())

        self.server.log_lines(records)
        if content_type == PROTOBUF:
            self.reply(200, PROTOBUF, ExportTraceServiceResponse().SerializeToString())
        else:
            self.reply(200, JSON, json_format.MessageToJson(ExportTraceServiceResponse()).encode())


def serve(port_file, out_path, mode):
    server = Receiver(out_path, mode)  # bound and listening once constructed
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    tmp = f"{port_file}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(f"{server.server_address[1]}\n")
    os.replace(tmp, port_file)

    while not stop.wait(0.1):  # a timed wait so signal handlers run promptly
        pass
    server.stopping.set()
    server.shutdown()
    server.server_close()
    server.out.close()
    return 0


# ---- tree -----------------------------------------------------------------------------------

def format_value(value):
    return value if isinstance(value, str) else json.dumps(value)


def tree(path):
    traces = {}  # trace id -> {span id: span}, in the file's order
    received = {}  # (trace id, span id) -> how many times it was exported
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.endswith("\n"):
                break  # a last line still being written
            record = json.loads(line) if line.strip() else {}
            if record.get("type") == "span":
                key = (record["trace_id"], record["span_id"])
                received[key] = received.get(key, 0) + 1
                traces.setdefault(record["trace_id"], {}).setdefault(record["span_id"], record)

    for trace_id, spans in traces.items():
        print(f"trace {trace_id}")
        children = {}
        for span in spans.values():
            parent = span["parent_span_id"]
            if parent not in spans or parent == span["span_id"]:
                parent = None  # its parent isn't in the file: show it at the top of its trace
            children.setdefault(parent, []).append(span)
        shown = set()

        def show(parent, depth):
            for span in sorted(children.get(parent, []), key=lambda s: s["start_unix_nano"]):
                if span["span_id"] in shown:  # guards against cycles in bad data
                    continue
                shown.add(span["span_id"])
                attrs = " ".join(f"{k}={format_value(v)}" for k, v in sorted(span["attributes"].items()))
                ms = (span["end_unix_nano"] - span["start_unix_nano"]) / 1e6
                times = received[(trace_id, span["span_id"])]
                repeat = f"  (received {times}x)" if times > 1 else ""
                print(f"{'  ' * depth}{span['name']}  {span['kind']}  {ms:.3f} ms  {attrs}".rstrip() + repeat)
                show(span["span_id"], depth + 1)

        show(None, 1)
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve_args = commands.add_parser("serve", help="receive OTLP/HTTP trace exports")
    serve_args.add_argument("--port-file", required=True)
    serve_args.add_argument("--out", required=True)
    serve_args.add_argument("--mode", choices=("ok", "hang", "fail", "flaky", "sink"), default="ok")
    tree_args = commands.add_parser("tree", help="print a JSON-lines span file as trees")
    tree_args.add_argument("path")
    args = parser.parse_args()
    if args.command == "serve":
        return serve(args.port_file, args.out, args.mode)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # quiet when piped into head
    return tree(args.path)


if __name__ == "__main__":
    sys.exit(main())
