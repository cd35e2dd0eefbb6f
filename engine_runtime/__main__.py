"""`python -m engine_runtime`: the per-engine runtime process (see docs/runtime.md).

Exit codes: 0 after a graceful stop, 2 for a configuration error (message on stderr), 1 when
the runtime failed at start (a symbol the venue does not list, a key it refuses, anything else:
said in one line, and in the Engine's status.runtime.startError when the API server can be
reached) or while running.
"""

from __future__ import annotations

import asyncio
import logging
import sys

from engine_runtime.config import Config, ConfigError, load_config
from engine_runtime.reporting.logs import configure

log = logging.getLogger("engine_runtime")


async def _main(config: Config) -> int:
    from engine_runtime.app.preflight import StartError
    from engine_runtime.app.runtime import Runtime

    runtime = Runtime(config)
    runtime.install_signals()
    try:
        await runtime.start()
    except StartError as error:  # known: one line, reported to the Engine
        log.error("cannot start: %s", error)
        await runtime.report_start_error(str(error))
        await runtime.abort()
        return 1
    except Exception as error:
        log.exception("start failed")
        await runtime.report_start_error(f"{type(error).__name__}: {error}")
        await runtime.abort()
        return 1
    await runtime.stop_event.wait()
    await runtime.stop()
    return runtime.exit_code


def keep_lean() -> None:
    """What this process will never load. pandas (a strategy's features) imports pyarrow, when
    installed, only to learn its version: about 35 MiB resident in every runtime with features.
    A live runtime reads no parquet, so the import is made to fail, which pandas expects."""
    sys.modules.setdefault("pyarrow", None)  # type: ignore[arg-type]


def main() -> int:
    keep_lean()
    try:
        config = load_config()
    except ConfigError as error:
        print(f"engine_runtime: {error}", file=sys.stderr)
        return 2
    s = config.settings
    configure(
        s.log_level,
        s.log_format,
        [s.api_key.get_secret_value(), s.api_secret.get_secret_value()],
        {"engine": config.engine_key, "pod": s.pod_name},
    )
    try:
        return asyncio.run(_main(config))
    except ConfigError as error:
        log.error("configuration: %s", error)
        return 2
    except Exception:
        return 1


if __name__ == "__main__":
    sys.exit(main())
