"""`make up` says what it is doing: a line as each component starts and one when it is ready
(a real child process and a real Redis here; the control plane's are the same two calls)."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

from eternal_operator.devtools.datastores import RedisServer
from eternal_operator.devtools.processes import free_port
from eternal_operator.devtools.stack import Stack

pytestmark = pytest.mark.integration


def test_each_component_prints_starting_then_ready(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    stack = Stack(root=tmp_path, ports={"redis": free_port()})
    stack.logs.mkdir(parents=True)
    try:
        argv = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
        stack._child("web", port, argv, dict(os.environ))
        stack.redis = RedisServer(tmp_path / "redis", port=stack.ports["redis"], fast=True)
        stack._server("redis", stack.redis, stack.redis.data_dir / "redis.log")
    finally:
        stack.down()
    lines = capfd.readouterr().err.splitlines()
    assert lines[0] == "stack: starting web..."
    assert re.fullmatch(r"stack: web ready \(\d+\.\ds\)", lines[1])
    assert lines[2] == "stack: starting redis..."
    assert re.fullmatch(r"stack: redis ready \(\d+\.\ds\)", lines[3])
