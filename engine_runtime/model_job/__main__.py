"""`python -m engine_runtime.model_job -- TRAIN_ARGS`: a ModelTraining Job's container.

Writes `$EE_TRAINING_PARAMS` (the strategy's parameters, JSON) to
`$EE_TRAINING_DIR/params.json` for the training's `--params`, runs `python -m
engine_runtime.train TRAIN_ARGS` (its output passes through to the pod's log; its last stdout
line is the metrics object), then publishes `$EE_TRAINING_DIR/out` into the ConfigMap
`$EE_MODEL_CONFIG_MAP` of namespace `$EE_POD_NAMESPACE`, marked as written by Job
`$EE_TRAINING_JOB`. A failed training or publish writes its reason there instead, and exits 1.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections import deque
from pathlib import Path

import httpx2

from .publish import PublishError, collect, metrics_of, write

TAIL_LINES = 12


def train(args: list[str]) -> tuple[int, list[str]]:
    """Run the training; its exit code and the last lines it printed."""
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    with subprocess.Popen(
        [sys.executable, "-m", "engine_runtime.train", *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    ) as process:  # fmt: skip
        assert process.stdout is not None
        for line in process.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            if line.strip():
                tail.append(line.rstrip())
    return process.returncode, list(tail)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--"]:
        args = args[1:]
    namespace, name = os.environ["EE_POD_NAMESPACE"], os.environ["EE_MODEL_CONFIG_MAP"]
    job = os.environ.get("EE_TRAINING_JOB", "")
    work = Path(os.environ["EE_TRAINING_DIR"])
    (work / "params.json").write_text(os.environ.get("EE_TRAINING_PARAMS", "{}"))
    out = work / "out"
    code, tail = train(args)
    try:
        if code != 0:
            raise PublishError(f"training exited with code {code}: " + " | ".join(tail[-4:]))
        files = collect(out)
        metrics = metrics_of(tail[-1] if tail else "")
        asyncio.run(write(namespace, name, job, files=files, metrics=metrics))
    except PublishError as error:
        print(f"model_job: {error}", file=sys.stderr)
        try:
            asyncio.run(write(namespace, name, job, error=str(error)))
        except (PublishError, httpx2.HTTPError) as unwritten:
            print(f"model_job: the reason could not be published: {unwritten}", file=sys.stderr)
        return 1
    print(f"model_job: published {', '.join(sorted(files))} into ConfigMap {namespace}/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
