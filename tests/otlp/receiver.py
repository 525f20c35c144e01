"""An OTLP/HTTP trace receiver for the span export test.

Listens on 127.0.0.1 (a free port, printed first), takes `POST /v1/traces` with a JSON
`ExportTraceServiceRequest`, decodes it with OpenTelemetry's own protobuf definitions (as a
collector does: ids arrive as hex, per OTLP/JSON, and are decoded as bytes of the right
length) and prints every span as one JSON line. A body that does not decode is answered 400
and printed as an `error` line, so the test sees it.
"""
import base64
import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest


def hex_ids_to_base64(body):
    """OTLP/JSON carries trace and span ids as hex; protobuf's JSON mapping wants base64."""
    for rs in body.get("resourceSpans", []):
        for ss in rs.get("scopeSpans", []):
            for span in ss.get("spans", []):
                for key, size in (("traceId", 16), ("spanId", 8), ("parentSpanId", 8)):
                    if key in span:
                        raw = bytes.fromhex(span[key])
                        if len(raw) != size:
                            raise ValueError(f"{key} {span[key]!r} is not {size} bytes")
                        span[key] = base64.b64encode(raw).decode()
    return body


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        try:
            if self.path != "/v1/traces":
                raise ValueError(f"posted to {self.path}")
            if self.headers.get("content-type") != "application/json":
                raise ValueError(f"content-type {self.headers.get('content-type')}")
            request = ExportTraceServiceRequest()
            json_format.Parse(json.dumps(hex_ids_to_base64(json.loads(body))), request)
        except Exception as e:  # every failure is reported to the test
            print(json.dumps({"error": str(e)}), flush=True)
            self.send_response(400)
            self.end_headers()
            return
        for rs in request.resource_spans:
            resource = {a.key: a.value.string_value for a in rs.resource.attributes}
            for ss in rs.scope_spans:
                for s in ss.spans:
                    attrs = {}
                    for a in s.attributes:
                        v = a.value
                        attrs[a.key] = v.int_value if v.HasField("int_value") else v.string_value
                    print(json.dumps({
                        "service": resource.get("service.name"),
                        "trace_id": s.trace_id.hex(),
                        "span_id": s.span_id.hex(),
                        "parent": s.parent_span_id.hex(),
                        "name": s.name,
                        "kind": s.kind,
                        "start": s.start_time_unix_nano,
                        "end": s.end_time_unix_nano,
                        "status": s.status.code,
                        "message": s.status.message,
                        "attributes": attrs,
                    }), flush=True)
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


server = HTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
