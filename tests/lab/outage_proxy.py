"""A TCP proxy in front of a lab server (S3 or MongoDB) that takes it away mid-transfer, for
fault tests. (A test tool: never part of the roles or the engine.)

After `fail_after_bytes` have passed in the counted direction ("up": client to server, "down":
server to client) it either goes down for `down_for` seconds (drops every open connection and
closes new ones at once, as a dead server would; then forwards again), or, with stall=True,
stops forwarding while keeping the connections open, as a hung server would. `rate` (bytes per
second, upload direction) slows the transfer, to give a test time to act mid-upload.
"""

import socket
import threading
import time


class OutageProxy:
    def __init__(self, target_port, fail_after_bytes=None, down_for=0, direction="up", stall=False, rate=None):
        self.target = ("127.0.0.1", int(target_port))
        self.fail_after, self.down_for = fail_after_bytes, down_for
        self.direction, self.stall, self.rate = direction, stall, rate
        self.counted = 0
        self.down_until = None
        self.outages = 0
        self.stalled = threading.Event()
        self.conns = set()
        self.lock = threading.Lock()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def is_down(self):
        return self.down_until is not None and time.monotonic() < self.down_until

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if self.is_down():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target)
            except OSError:  # the server itself is down: so is the proxy, for this connection
                client.close()
                continue
            with self.lock:
                self.conns.update((client, upstream))
            threading.Thread(target=self._pipe, args=(client, upstream, "up"), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, "down"), daemon=True).start()

    def _pipe(self, src, dst, direction):
        try:
            while data := src.recv(65536):
                if self.stalled.is_set():
                    while not self.closed:
                        time.sleep(0.1)  # hold the connection open, forwarding nothing
                    return
                if direction == self.direction and self.fail_after is not None:
                    with self.lock:
                        self.counted += len(data)
                        if self.down_until is None and not self.stalled.is_set() and self.counted > self.fail_after:
                            if self.stall:
                                self.stalled.set()
                                self.outages += 1
                                continue
                            self._go_down()
                            return
                if self.rate and direction == "up":
                    time.sleep(len(data) / self.rate)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            if not self.stalled.is_set():
                for s in (src, dst):
                    try:
                        s.close()
                    except OSError:
                        pass

    def _go_down(self):
        self.down_until = time.monotonic() + self.down_for
        self.outages += 1
        for s in list(self.conns):
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass
        self.conns.clear()

    def close(self):
        self.closed = True
        self.server.close()
        for s in list(self.conns):
            try:
                s.close()
            except OSError:
                pass
