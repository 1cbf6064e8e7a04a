#!/usr/bin/env python3
"""python3's http.server plus single-range GETs (fastboop's http source asks
for 206 answers). Serves DIR on 127.0.0.1 at a free port, written to PORTFILE;
logs each request to LOG as "METHOD PATH RANGE" (RANGE is the Range header,
"-" when there is none); exits after LIFETIME seconds whatever happens.
Usage: range_server.py DIR PORTFILE LOG LIFETIME"""
import http.server
import os
import re
import sys
import threading


class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        with open(LOG, "a") as f:
            f.write("%s %s %s\n" % (self.command, self.path, self.headers.get("Range", "-")))

    def send_head(self):
        path = self.translate_path(self.path)
        if not os.path.isfile(path):
            self.send_error(404)
            return None
        size = os.path.getsize(path)
        m = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        f = open(path, "rb")
        if m:
            first = int(m.group(1))
            last = min(int(m.group(2)) if m.group(2) else size - 1, size - 1)
            if first > last:
                f.close()
                self.send_error(416)
                return None
            self.send_response(206)
            self.send_header("Content-Range", "bytes %d-%d/%d" % (first, last, size))
        else:
            first, last = 0, size - 1
            self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(last - first + 1))
        self.end_headers()
        f.seek(first)
        self._remaining = last - first + 1
        return f

    def copyfile(self, source, outputfile):
        while self._remaining > 0:
            chunk = source.read(min(self._remaining, 1 << 20))
            if not chunk:
                break
            outputfile.write(chunk)
            self._remaining -= len(chunk)


DIR, PORTFILE, LOG, LIFETIME = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
server = http.server.ThreadingHTTPServer(
    ("127.0.0.1", 0), lambda *a, **k: Handler(*a, directory=DIR, **k))
server.daemon_threads = True
threading.Timer(LIFETIME, server.shutdown).start()
with open(PORTFILE + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(PORTFILE + ".tmp", PORTFILE)
server.serve_forever()
