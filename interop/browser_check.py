#!/usr/bin/env python3
"""Serves interop/browser.html on localhost, opens it in headless Chromium, and waits for the
page to report its outcome at /result. Usage: browser_check.py WS_URL"""
import http.server
import os
import subprocess
import sys
import tempfile
import threading
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
result = {}
done = threading.Event()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        path, _, query = self.path.partition("?")
        if path == "/result":
            result["text"] = urllib.parse.unquote(query)
            done.set()
            body = b"ok"
        else:
            with open(os.path.join(HERE, "browser.html"), "rb") as f:
                body = f.read()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
page = "http://127.0.0.1:%d/browser.html?ws=%s" % (server.server_port, urllib.parse.quote(sys.argv[1]))
with tempfile.TemporaryDirectory() as profile:
    chrome = subprocess.Popen(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--user-data-dir=" + profile, page],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    done.wait(60)
    chrome.kill()
    chrome.wait()
text = result.get("text", "no result within 60 s")
print("browser interop: " + text)
if text.startswith("PASSED"):
    print("browser interop: 1 passed, 0 failed")
else:
    sys.exit(1)
