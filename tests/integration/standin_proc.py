"""standin_proc.py — one of the Python stand-in servers of this folder
(embed_standin.py: an OpenAI-compatible model server; otlp_standin.py: an
OTLP/HTTP trace receiver) as a child process of a test, on a free loopback
port it prints at start; GET/POST helpers for its /control routes; stopped
in bounded time."""
import subprocess
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent


class StandinProcess:
    def __init__(self, script, *args):
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", str(HERE / script), "--port", "0", "--max-seconds", "600",
             *args], stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("PORT "), line
        self.port = int(line.split()[1])
        self.url = f"http://127.0.0.1:{self.port}"

    def get(self, path):
        return requests.get(self.url + path, timeout=10).json()

    def post(self, path, body=None):
        requests.post(self.url + path, json=body or {}, timeout=10).raise_for_status()

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
