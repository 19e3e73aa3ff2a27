"""Real processes for the gateway tests: the app (`quart-template serve`) and nginx running the
shipped site template, each on a free loopback port, logging into the test's directory, and
stopped for sure (terminate, wait, kill)."""

from __future__ import annotations

import functools
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.support.network import free_port

ROOT = Path(__file__).resolve().parents[2]
SITE_TEMPLATE = ROOT / "deploy" / "nginx" / "quart-template.conf.template"
SCRIPT = str(Path(sys.executable).with_name("quart-template"))
START_SECONDS = 30.0  # bounds, not expectations
STOP_SECONDS = 10.0
PLACEHOLDER = re.compile(r"\$\{([A-Z_]+)\}")


def find_nginx() -> str | None:
    """nginx on PATH, or where Debian puts it (/usr/sbin is not on every user's PATH)."""
    found = shutil.which("nginx")
    if found:
        return found
    return "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None


def render_site(**values: str) -> str:
    """The shipped template with its `${NAME}`s filled in, as envsubst would; a name the
    template uses but the caller did not give fails here rather than in nginx."""
    text = SITE_TEMPLATE.read_text()
    missing = set(PLACEHOLDER.findall(text)) - set(values)
    assert not missing, f"no value for {sorted(missing)}"
    return PLACEHOLDER.sub(lambda match: values[match.group(1)], text)


def stop(process: subprocess.Popen[bytes], *, group: bool = False) -> None:
    """SIGTERM, a bounded wait, then SIGKILL (to the process group when it has workers)."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        if group:
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
        process.wait(timeout=STOP_SECONDS)


def wait_until(
    ready: Callable[[], bool], process: subprocess.Popen[bytes], name: str, log: Path
) -> None:
    """Poll `ready` until it holds; a process that exits or takes too long fails with its log."""
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{name} exited ({process.returncode}):\n{_tail(log)}")
        if ready():
            return
        time.sleep(0.05)  # poll interval
    raise AssertionError(f"{name} did not answer in {START_SECONDS} s:\n{_tail(log)}")


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-4000:] if log.exists() else "(no log)"


class AppServer:
    """One instance of the app, served for real; several share one database (and Redis)."""

    def __init__(self, workdir: Path, env: dict[str, str], *, workers: int = 1) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.env = env
        self.workers = workers
        self.log = workdir / "serve.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        port, workers = str(self.port), str(self.workers)
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [SCRIPT, "serve", "--host", "127.0.0.1", "--port", port, "--workers", workers],
                env=self.env,
                cwd=self.workdir,  # no developer's .env here
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=self.workers > 1,  # its own group: workers are stopped too
            )

    def wait_ready(self) -> None:
        assert self.process is not None
        wait_until(self._healthy, self.process, f"serve on {self.address}", self.log)

    def _healthy(self) -> bool:
        try:
            return httpx.get(f"http://{self.address}/healthz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process, group=self.workers > 1)


class Nginx:
    """nginx in the foreground as whoever runs the tests: prefix, config, pid, logs and temp
    files all in `workdir`; the http block includes one rendered site per entry of `sites`."""

    def __init__(self, binary: str, workdir: Path, sites: list[str]) -> None:
        self.binary = binary
        self.workdir = workdir
        self.sites = sites
        self.error_log = workdir / "error.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, ports: list[int]) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        includes = []
        for number, site in enumerate(self.sites):
            path = self.workdir / f"site-{number}.conf"
            path.write_text(site)
            includes.append(f"    include {path};")
        config = self.workdir / "nginx.conf"
        config.write_text(self._main_config(includes))
        pid = self.workdir / "nginx.pid"
        command = [self.binary, "-p", f"{self.workdir}/", "-e", str(self.error_log)]
        command += ["-c", str(config), "-g", f"daemon off; pid {pid};"]
        with (self.workdir / "stderr.log").open("wb") as out:
            self.process = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its workers go with it, even on SIGKILL
            )
        for port in ports:
            listening = functools.partial(_listening, port)
            wait_until(listening, self.process, f"nginx on port {port}", self.error_log)

    def _main_config(self, includes: list[str]) -> str:
        temp = self.workdir / "temp"
        temp.mkdir(exist_ok=True)  # nginx makes the last level only
        # As root, nginx would run its workers as "nobody", who cannot enter this private
        # directory; keep them as the test's own user.
        user = "user root;\n" if os.geteuid() == 0 else ""
        temp_paths = "\n".join(
            f"    {kind}_temp_path {temp / kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        return (
            f"{user}worker_processes 1;\nerror_log {self.error_log} notice;\n"
            "events { worker_connections 128; }\n"
            "http {\n"
            f"    access_log {self.workdir / 'access.log'};\n{temp_paths}\n"
            + "\n".join(includes)
            + "\n}\n"
        )

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process, group=True)


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False
