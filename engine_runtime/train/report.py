"""``report.html``: the training's figures and plots (PNG embedded), for people. It stays beside
the artifact and is never published with it."""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .pipeline import Trained


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode()


def _plots(trained: Trained) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = []
    if trained.backtests:
        fig, ax = plt.subplots(figsize=(10, 4))
        for name, result in trained.backtests.items():
            ax.plot(result.close_index.tz_convert(None), result.equity, label=name)
        ax.set_title("Out-of-sample backtest: equity, filtered vs unfiltered")
        ax.legend()
        out.append(("Out-of-sample equity", _png(fig)))
        plt.close(fig)
    fig, ax = plt.subplots(figsize=(10, 3))
    ax.hist(trained.test_probabilities, bins=40)
    ax.axvline(trained.metrics["confidenceThreshold"], color="red")
    ax.set_title("Out-of-sample probabilities (red: confidenceThreshold)")
    out.append(("Probabilities", _png(fig)))
    plt.close(fig)
    names = list(trained.importance)
    fig, ax = plt.subplots(figsize=(10, 5))
    ax.barh(names, [trained.importance[n] for n in names])
    ax.set_title("Feature importance (gain)")
    out.append(("Feature importance", _png(fig)))
    plt.close(fig)
    return out


def write(trained: Trained, path: Path) -> Path:
    figures = "\n".join(
        f"<h2>{html.escape(title)}</h2><img src='data:image/png;base64,{data}'>"
        for title, data in _plots(trained)
    )
    manifest = html.escape(json.dumps(trained.manifest, indent=2, default=str))
    path.write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>meta-trend training</title>"
        "</head><body><h1>meta-trend training report</h1>"
        f"{figures}<h2>Manifest</h2><pre>{manifest}</pre></body></html>\n"
    )
    return path
