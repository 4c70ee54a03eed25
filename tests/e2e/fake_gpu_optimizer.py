#!/usr/bin/env python3
"""A fake of brix's / AIBrix's GPU optimizer for the gateway's slo tests: it
serves GET /assignment/<model> from DIR/<model>.json, read again on every
request (a test changes the file to change the assignment), 404 when there is
no such file. Nothing else: no ILP, no load. Binds 127.0.0.1 on --port (0:
any) and writes the port it got to --port-file."""
import argparse
import http.server
import os
import urllib.parse


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    args = ap.parse_args()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            path = urllib.parse.urlsplit(self.path).path
            prefix = "/assignment/"
            model = urllib.parse.unquote(path[len(prefix):]) if path.startswith(prefix) else ""
            f = os.path.join(args.dir, model + ".json")
            if not model or "/" in model or model.startswith(".") or not os.path.isfile(f):
                self.send_error(404, "no assignment")
                return
            with open(f, "rb") as fh:
                body = fh.read()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as fh:
        fh.write(str(srv.server_address[1]))
    os.rename(tmp, args.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
