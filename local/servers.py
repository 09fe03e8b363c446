"""The HTTP server class of every local endpoint (gateway, stand-ins)."""

from __future__ import annotations

from http.server import ThreadingHTTPServer


class LocalHttpServer(ThreadingHTTPServer):
    """A thread per connection, as any number of clients may call at once.

    socketserver's default listen backlog of 5 resets connections when a client opens many at
    once (the concurrency tests run 20 writers); API Gateway never refuses a connection.
    """

    request_queue_size = 128
    daemon_threads = True
