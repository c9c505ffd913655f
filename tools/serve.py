#!/usr/bin/env python3
"""Static file server for the demo and page tests: correct MIME types (application/wasm), COOP/COEP for
cross-origin isolation (SharedArrayBuffer, wasm threads), and no-cache so rebuilds show up at once."""
import argparse
import functools
import http.server
import os
import sys


class Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".wasm": "application/wasm",
        ".js": "text/javascript",
        ".mjs": "text/javascript",
        ".json": "application/json",
        ".bin": "application/octet-stream",
        ".webmanifest": "application/manifest+json",
        ".svg": "image/svg+xml",
    }

    def end_headers(self):
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        self.send_header("Cache-Control", "no-cache")
        if self.server.csp:
            self.send_header("Content-Security-Policy", self.server.csp)
        super().end_headers()

    def do_GET(self):
        if self.server.control and self.path.startswith("/__control/drop"):
            from urllib.parse import parse_qs, urlsplit
            self.server.drop = parse_qs(urlsplit(self.path).query).get("prefix", [""])[0]
            self.send_response(204)
            self.end_headers()
            return
        if self.server.drop and self.path.startswith(self.server.drop):
            # A network failure as the browser sees one: the connection closes with no response at all.
            self.close_connection = True
            return
        super().do_GET()

    def log_message(self, fmt, *args):
        if not self.server.quiet:
            super().log_message(fmt, *args)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", default="www")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--csp", default="", help="a Content-Security-Policy header to send with every response")
    parser.add_argument(
        "--control",
        action="store_true",
        help="tests only: GET /__control/drop?prefix=/p/ makes requests under /p/ fail as if the network were down "
        "(the connection closes unanswered); an empty prefix restores them",
    )
    args = parser.parse_args()
    if not os.path.isdir(args.dir):
        parser.error(f"--dir {args.dir}: no such directory")
    server = http.server.ThreadingHTTPServer((args.host, args.port), functools.partial(Handler, directory=args.dir))
    # Ctrl-C ends the server at once: a client that stopped reading must not hold the exit.
    server.daemon_threads = True
    server.quiet = args.quiet
    server.csp = args.csp
    server.control = args.control
    server.drop = ""
    print(f"webinfer demo: http://localhost:{server.server_address[1]}/  (serving {args.dir}/, Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
