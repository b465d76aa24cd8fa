# The small HTTP target of the daemon benchmarks (bench/daemon_lib.sh, connect_floor_bench):
# answers GET <anything> with {"status":"OK"}, one thread per connection, in a process of its
# own so that none of its CPU counts as obsmon's. Usage: python3 bench/http_target.py PORT [keep]
# ("keep": HTTP/1.1, connections kept between requests, for probes with keep_alive; otherwise
# HTTP/1.0, each connection closed after its answer).
import http.server
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    if len(sys.argv) > 2 and sys.argv[2] == "keep":
        protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = b'{"status":"OK"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 1024  # the default 5 refuses connections when runs come together


Server(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
