"""A TCP proxy in front of the lab's S3 that can take S3 away mid-transfer, for fault tests.

While down it drops every open connection and closes new ones at once, as a dead server would;
after `down_for` seconds it forwards again.
"""

import socket
import threading
import time


class OutageProxy:
    def __init__(self, target_port, fail_after_bytes, down_for):
        self.target = ("127.0.0.1", int(target_port))
        self.fail_after, self.down_for = fail_after_bytes, down_for
        self.sent = 0
        self.down_until = None
        self.outages = 0
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
            upstream = socket.create_connection(self.target)
            with self.lock:
                self.conns.update((client, upstream))
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, src, dst, upload):
        try:
            while data := src.recv(65536):
                if upload:
                    with self.lock:
                        self.sent += len(data)
                        if self.down_until is None and self.sent > self.fail_after:
                            self._go_down()
                            return
                dst.sendall(data)
        except OSError:
            pass
        finally:
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
