"""`python -m eternal_operator.devtools.podrunner`: run the operator's pods (Deployments, Jobs)
locally until SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from pathlib import Path

from eternal_operator.kube import KubeClient

from .runner import PodRunner


async def _run(
    root: Path, ca_file: str | None, pod_server: str | None, targets_file: Path | None
) -> None:
    kube = KubeClient.from_environment()
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    try:
        runner = PodRunner(kube, root, ca_file, pod_server=pod_server, targets_file=targets_file)
        await runner.run(stopping)
    finally:
        await kube.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", type=Path, required=True, help="pods' files and logs go here")
    parser.add_argument("--ca-file", help="the API server's CA, for the pods' kubeconfigs")
    parser.add_argument(
        "--pod-server", help="the API server's URL as the pods reach it (default: the runner's)"
    )
    parser.add_argument(
        "--targets-file", type=Path,
        help="list each running pod's metrics port here for Prometheus (file_sd JSON)",
    )  # fmt: skip
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    asyncio.run(_run(args.root, args.ca_file, args.pod_server, args.targets_file))


if __name__ == "__main__":
    main()
