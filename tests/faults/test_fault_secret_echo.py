"""Fault: a receiver that echoes the request, secrets and all, in its error answer.

Sink URLs carry ``user:password@`` (sent as ``Authorization: Basic …``) and a token in the
path. A real receiver on 127.0.0.1 answers 500 (and one 404) with the request echoed back:
credentials, Authorization header, URL and body, plain, base64, as HTML entities and
percent-encoded. A real ``threadwatch tail`` delivers to it; then stderr, ``threadwatch alerts``
(table and ``--json``) and the raw bytes of every file of the state hold none of the secret's
forms.
"""

from __future__ import annotations

import base64
import html
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from urllib.parse import quote

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from sources.tail_helpers import wait_until

USER, PASSWORD = "ab", "s3cr&t<pw>"
CREDENTIALS = f"{USER}:{PASSWORD}"
BASIC = "Basic " + base64.b64encode(CREDENTIALS.encode()).decode()
HMAC_KEY = "hm4cK3yXYZ"
TOKEN = "T0KENq8Zr5"
# sink name -> (echo mode, status)
SINKS = {"plain": ("plain", 500), "b64": ("b64", 500), "entities": ("entities", 500),
         "percent": ("percent", 500), "refused": ("b64", 404)}


def _entities(text: str) -> str:
    return "".join(f"&#{ord(ch)};" for ch in text)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


SECRET_FORMS = {
    PASSWORD, CREDENTIALS, quote(PASSWORD, safe=""), quote(CREDENTIALS, safe=""),
    html.escape(PASSWORD), html.escape(CREDENTIALS), _entities(PASSWORD), _entities(CREDENTIALS),
    _b64(CREDENTIALS).rstrip("="), BASIC, _b64(BASIC).rstrip("="), TOKEN, _entities(TOKEN),
    HMAC_KEY,
    f"{USER}:{quote(PASSWORD, safe='')}",  # the URL's user-info as written in it
}
ENCODE = {
    "plain": lambda text: text,
    "b64": _b64,
    "entities": _entities,
    "percent": lambda text: quote(text, safe=""),
}


class EchoReceiver:
    """Answers every request with an error that echoes it (mode and status from its path)."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.auth: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, request: Request) -> Response:
        sink = request.path.split("/")[1]
        mode, status = SINKS[sink]
        auth = request.headers.get("Authorization", "")
        user, _, password = base64.b64decode(auth.split()[-1]).decode().partition(":")
        with self.lock:
            self.hits[sink] += 1
            self.auth.append(auth)
        pieces = {"credentials": f"{user}:{password}", "authorization": auth,
                  "url": request.url, "body": request.get_data(as_text=True)[:200]}
        echo = " ".join(f"{name}={ENCODE[mode](value)}" for name, value in pieces.items())
        return Response(f"error: {echo}", status=status)


def _config(port: int) -> str:
    lines = ["[tail]", "poll_seconds = 0.05", "sweep_seconds = 0.2", "refresh_seconds = 0.1",
             "[alerts]", "hold_seconds = 0", "group_wait_seconds = 0", 'host = "echo-host"']
    for sink in SINKS:
        lines += [f"[alerts.sinks.{sink}]", 'type = "webhook"',
                  f'url = "http://${{ECHO_USERINFO}}@127.0.0.1:{port}/{sink}/${{ECHO_TOKEN}}"',
                  'secret = "${ECHO_HMAC}"']
    return "\n".join(lines) + "\n"


def _last_errors(state: Path) -> dict[str, str]:
    db = sqlite3.connect(f"file:{state}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT sink, last_error FROM alert_deliveries"
                          " WHERE last_error IS NOT NULL").fetchall()
    except sqlite3.Error:
        return {}
    finally:
        db.close()
    return {str(sink): str(error) for sink, error in rows}


def _leaks(data: bytes) -> list[str]:
    lowered = data.lower()
    return sorted(form for form in SECRET_FORMS if form.lower().encode() in lowered)


def test_secrets_echoed_by_a_receiver_reach_no_output_log_or_state(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    receiver = EchoReceiver()
    for sink in SINKS:
        httpserver.expect_request(f"/{sink}/{TOKEN}", method="POST").respond_with_handler(
            receiver)
    (tmp_path / "tw.toml").write_text(_config(httpserver.port))
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "tmp_batt_Ech0Rec31v_run.log"
    log.write_text("")
    state_folder = tmp_path / "state"
    state = state_folder / "state.db"
    env = {**os.environ, "ECHO_USERINFO": f"{USER}:{quote(PASSWORD, safe='')}",
           "ECHO_TOKEN": TOKEN, "ECHO_HMAC": HMAC_KEY}
    err_path = tmp_path / "err.txt"
    with (tmp_path / "out.jsonl").open("wb") as out, err_path.open("wb") as err:
        tail = subprocess.Popen(
            [sys.executable, "-m", "threadwatch", "tail", "--format", "jsonl", "--state",
             str(state), "--config", str(tmp_path / "tw.toml"), str(logs)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env)
        try:
            wait_until(lambda: state.exists() or tail.poll() is not None, "tail to start")
            with log.open("a") as stream:
                stream.write("run_batt.py:292: CRITICAL: MemoryError in CPU ProcessPoolExecutor"
                             " - cannot recover\n")
            wait_until(lambda: set(_last_errors(state)) == set(SINKS) or tail.poll() is not None,
                       "a recorded failure of every sink")
        finally:
            if tail.poll() is None:
                tail.send_signal(signal.SIGTERM)
            code = tail.wait(20)
    stderr = err_path.read_bytes()
    assert code == 0, stderr
    with receiver.lock:  # the receiver did get the secret: the echo is real
        assert set(receiver.auth) == {BASIC}, receiver.auth

    assert _leaks(stderr) == [], stderr
    assert b"refused" in stderr, stderr  # the 404 is said on stderr, redacted
    for output in ("table", "json"):
        listing = subprocess.run(
            [sys.executable, "-m", "threadwatch", "alerts", "--state", str(state),
             "--format", output], capture_output=True, env=env, timeout=60, check=False)
        assert listing.returncode == 0, listing.stderr
        assert b"HTTP 500" in listing.stdout, listing.stdout
        assert _leaks(listing.stdout) == [], listing.stdout
    files = sorted(state_folder.iterdir())
    assert state in files
    for path in files:
        assert _leaks(path.read_bytes()) == [], path

    errors = _last_errors(state)
    for sink, (_, status) in SINKS.items():
        assert errors[sink].startswith(f"HTTP {status}"), errors
    assert "***" in errors["plain"], errors  # redacted, not withheld: the rest is still shown
