#!/usr/bin/env python3
"""Holds N idle live streams (GET /v1/me/notifications/stream) open against a forumnet server, for
tests/bench/streams.sh. Prints "ready N" once every stream answered 200 and its first bytes, then reads
(and discards) whatever the server sends (heartbeats) until it is sent SIGTERM. Exit status 1 if a stream
could not be opened or one ended early.

  stream_holder.py BASE_URL TOKEN N
"""
import selectors
import signal
import socket
import sys
from urllib.parse import urlparse


def main():
    base, token, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    u = urlparse(base)
    request = (
        "GET /v1/me/notifications/stream HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n"
        "Authorization: Bearer {}\r\n\r\n".format(u.netloc, token)
    ).encode()
    sel = selectors.DefaultSelector()
    socks = []
    for _ in range(n):
        s = socket.create_connection((u.hostname, u.port), timeout=10)
        s.sendall(request)
        head = b""
        while b"retry:" not in head:
            chunk = s.recv(4096)
            if not chunk:
                sys.exit("stream_holder: a stream closed before it opened: %r" % head[:200])
            head += chunk
        if not head.startswith(b"HTTP/1.1 200"):
            sys.exit("stream_holder: the stream answered %r" % head.split(b"\r\n", 1)[0])
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        socks.append(s)
    print("ready", len(socks), flush=True)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    while not stop:
        for key, _ in sel.select(timeout=0.5):
            if not key.fileobj.recv(65536):
                sys.exit("stream_holder: the server ended a stream")
    for s in socks:
        s.close()


if __name__ == "__main__":
    main()
