"""The local stack's supervisor with real processes: a child that exits is started again after
the backoff, said on stdout and in its log; the paper venue, killed with SIGKILL, serves again on
the same port with the state of its snapshot."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from eternal_operator.devtools.datastores import PG_BIN, PostgresServer
from eternal_operator.devtools.processes import free_port, port_in_use, spawn
from eternal_operator.devtools.stack import status
from eternal_operator.devtools.supervisor import Child, Supervisor
from support.venue_admin import admin, venue_env
from support.waiting import wait_for

pytestmark = pytest.mark.integration


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def child(name: str, argv: list[str], log: Path, port: int = 0, **env: str) -> Child:
    launch = partial(spawn, argv, log, env={**os.environ, **env})
    return Child(name, port, log, launch, launch())


def test_an_exited_child_is_restarted_after_its_backoff(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clock, log = FakeClock(), tmp_path / "flaky.log"
    supervisor = Supervisor(clock=clock)
    flaky = child("flaky", [sys.executable, "-c", "import sys; sys.exit(3)"], log)
    supervisor.add(flaky)
    assert flaky.process is not None
    first = flaky.process.pid
    flaky.process.wait(timeout=10)

    supervisor.watch()
    assert flaky.process is None
    assert "flaky exited (code 3); restarting in 1s" in capsys.readouterr().out
    clock.now = 0.5
    supervisor.watch()
    assert flaky.process is None  # not before its time
    clock.now = 1.0
    supervisor.watch()
    assert flaky.process is not None
    assert flaky.process.pid != first
    assert f"flaky restarted as pid {flaky.process.pid}" in capsys.readouterr().out
    flaky.process.wait(timeout=10)
    supervisor.watch()  # at once again: twice as long
    assert "flaky exited (code 3); restarting in 2s" in capsys.readouterr().out
    assert flaky.crashes.restarts == 2
    lines = log.read_text().splitlines()
    assert lines[0].endswith("[stack] flaky exited (code 3); restarting in 1s")
    assert lines[-1].endswith("[stack] flaky exited (code 3); restarting in 2s")
    supervisor.stop()
    clock.now = 100.0
    supervisor.watch()
    assert flaky.process is None  # stopped: no more restarts


def test_stop_ends_every_child_and_no_restart_follows(tmp_path: Path) -> None:
    supervisor = Supervisor()
    sleeper = child("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"],
                    tmp_path / "sleeper.log")  # fmt: skip
    supervisor.add(sleeper)
    process = sleeper.process
    assert process is not None
    supervisor.stop()
    assert process.poll() is not None
    assert sleeper.process is None


@pytest.fixture
def venue(tmp_path: Path) -> Iterator[tuple[Child, str]]:
    """The paper venue as the stack runs it (snapshot_path, its admin token), supervised by a
    supervisor watching in a thread; yields its child and URL."""
    port = free_port()
    config = tmp_path / "venue.json"
    config.write_text(json.dumps({
        "port": port, "snapshot_path": str(tmp_path / "state.json"), "snapshot_interval_s": 0.5,
        "clock": {"mode": "real"},
    }))  # fmt: skip
    argv = [sys.executable, "-m", "paper_venue", "--config", str(config)]
    log = tmp_path / "paper-venue.log"
    launch = partial(spawn, argv, log, env=venue_env())
    paper = Child("paper-venue", port, log, launch, launch())
    supervisor = Supervisor()
    supervisor.add(paper)
    thread = threading.Thread(target=supervisor.run, kwargs={"interval_s": 0.1}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: port_in_use(port), 30, "the venue to listen")
        yield paper, url
    finally:
        supervisor.stop()
        thread.join(timeout=30)


def serving(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/v5/market/time", timeout=1) as answer:
            return answer.status == 200
    except OSError:
        return False


def test_a_killed_venue_serves_again_on_its_port_with_its_snapshot(
    venue: tuple[Child, str], tmp_path: Path
) -> None:
    paper, url = venue
    made = admin(url, "accounts", {"username": "survivor", "balances": {"USDT": "123"}})
    state = tmp_path / "state.json"
    wait_for(lambda: state.exists() and "survivor" in state.read_text(), 10, "a snapshot")
    assert paper.process is not None
    killed = paper.process.pid
    os.kill(killed, signal.SIGKILL)

    wait_for(lambda: paper.process is not None and paper.process.pid != killed, 10, "a restart")
    wait_for(lambda: serving(url), 30, "the venue to serve again")
    accounts = {a["username"]: a["uid"] for a in admin(url, "state")["accounts"]}
    assert accounts["survivor"] == made["uid"]
    assert paper.crashes.restarts == 1
    text = (tmp_path / "paper-venue.log").read_text()
    assert "paper-venue exited (code -9); restarting in 1s" in text
    assert f"paper-venue restarted as pid {paper.pid}" in text


def test_status_shows_each_components_restarts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "stack.json").write_text(json.dumps({
        "pid": os.getpid(), "kubeconfig": "kc",
        "components": [
            {"name": "paper-venue", "port": 0, "pid": os.getpid(), "restarts": 3},
            {"name": "operator", "port": 0, "pid": 0, "restarts": 1},  # waiting to restart
        ],
    }))  # fmt: skip
    assert status(tmp_path) == 1  # one is down
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:2] == ["paper-venue", "up"]
    assert lines[0].endswith("restarts 3")
    assert lines[1].split()[:2] == ["operator", "DOWN"]
    assert lines[1].endswith("restarts 1")


def test_a_killed_postgres_comes_back_with_its_data(tmp_path: Path) -> None:
    server = PostgresServer(tmp_path / "postgres")

    def launch() -> subprocess.Popen[bytes]:
        server.start()
        assert server.process is not None
        return server.process

    supervisor = Supervisor()
    pg = Child("postgres", 0, tmp_path / "postgres.log", launch, launch(),
               halt=lambda _: server.stop())  # fmt: skip
    supervisor.add(pg)
    try:
        database = server.create_database("kept")
        killed = pg.pid
        os.kill(killed, signal.SIGKILL)

        def restarted() -> bool:
            supervisor.watch()
            return pg.process is not None and pg.pid != killed

        wait_for(restarted, 60, "postgres to start again")
        psql = [str(PG_BIN / "psql"), database, "-qAtc", "SELECT current_database()"]
        assert subprocess.run(psql, capture_output=True, text=True, check=True).stdout == "kept\n"
    finally:
        supervisor.stop()
