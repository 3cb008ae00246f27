#!/usr/bin/env python3
"""flaky_server.py DIR PORTFILE - serves DIR over HTTP on 127.0.0.1 (free port written to
PORTFILE), but cuts every .kpkg download off after half of its bytes: a mirror that goes away
mid-download, for the update tests."""
import http.server, os, socket, sys

root, portfile = sys.argv[1], sys.argv[2]

class H(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *a, **k):
        super().__init__(*a, directory=root, **k)
    def log_message(self, *a):
        pass
    def do_GET(self):
        if not self.path.endswith(".kpkg"):
            return super().do_GET()
        data = open(os.path.join(root, self.path.lstrip("/")), "rb").read()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2])
        self.wfile.flush()
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.close_connection = True

s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(portfile, "w") as f:
    f.write(str(s.server_address[1]))
s.serve_forever()
