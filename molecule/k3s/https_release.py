"""A fake k3s release over HTTPS for the k3s scenario: serves one directory on one local address, then stops.

    python3 https_release.py DIR ADDRESS PORT CERT KEY SECONDS

Bounded: it answers for SECONDS seconds at most and then exits by itself.
"""

import functools
import http.server
import ssl
import sys
import threading


def main() -> None:
    directory, address, port, cert, key, seconds = sys.argv[1:7]
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=directory)
    server = http.server.ThreadingHTTPServer((address, int(port)), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Timer(float(seconds), server.shutdown).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
