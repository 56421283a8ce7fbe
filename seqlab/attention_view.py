"""Look at attention: the weights of a model's `SeqSelfAttention` layer for one sentence,
drawn as a heatmap (PNG through matplotlib) or a shaded grid in the terminal (Rich).

Rows are the attending tokens (queries), columns the tokens attended to (keys); each row
sums to 1 over the keys inside the layer's window. Cells outside the window of local or causal
attention are left blank.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from seqlab.errors import SeqlabError

DPI = 100
# The longest sentence drawn: the map is T x T cells (and the layer's scores T x T x units),
# so 10,000 tokens would take gigabytes and draw nothing readable.
MAX_TOKENS = 500
# Decimals a weight keeps when written out (`seqlab attention --json`, a run's attention.json).
WEIGHT_DIGITS = 6


@dataclass
class AttentionView:
    """What is drawn: tokens, predicted tags, weights ``(T, T)`` and the window mask."""

    tokens: list[str]
    tags: list[str]
    weights: np.ndarray  # (T, T): row = query, column = key
    window: np.ndarray  # (T, T) bool: keys each query may attend to
    width: int | None
    history_only: bool

    def weight_rows(self) -> list[list[float | None]]:
        """The weights as JSON writes them: one list per query, each weight rounded to
        :data:`WEIGHT_DIGITS` decimals, None outside the window."""
        return [[round(float(w), WEIGHT_DIGITS) if inside else None
                 for w, inside in zip(row, mask)]
                for row, mask in zip(self.weights, self.window)]

    def describe(self) -> str:
        kind = "causal " if self.history_only else ""
        span = f"local attention, width {self.width}" if self.width else "global attention"
        return f"{kind}{span}"


def check_sentence(tokens: Sequence[str]) -> None:
    """Refuse an empty sentence, or one longer than :data:`MAX_TOKENS`."""
    if not tokens:
        raise SeqlabError("the sentence is empty: expected at least one token")
    if len(tokens) > MAX_TOKENS:
        raise SeqlabError(f"the sentence has {len(tokens)} tokens; attention is drawn for at "
                          f"most {MAX_TOKENS} (a map of T x T weights): give a shorter one")


def window_mask(n: int, width: int | None, history_only: bool) -> np.ndarray:
    """Which keys each query of ``n`` tokens may see, ``(n, n)`` booleans: the layer's own
    window (:func:`seqlab.layers.attention.window_valid`)."""
    from keras import ops

    from seqlab.layers.attention import window_valid

    positions = np.arange(n)
    return np.array(ops.convert_to_numpy(window_valid(positions, positions, width,
                                                      history_only)), dtype=bool)


def attention_view(tagger, tokens: Sequence[str], head: int = 0) -> AttentionView:
    """The attention weights of ``tagger``'s model for one sentence, and its predicted tags.

    A sub-model runs the loaded model up to the attention layer's input; a copy of the layer
    (of head ``head`` when the model has several) with ``return_attention=True`` and the same
    weights then gives the ``(T, T)`` matrix.
    """
    from seqlab.batching import padded_batches
    from seqlab.layers import SeqSelfAttention

    tokens = list(tokens)
    check_sentence(tokens)
    parts = tagger.parts
    if parts.attention is None:
        raise SeqlabError("the model has no attention layer (it was trained with "
                          "model.attention.enabled: false)")
    heads = parts.attention_heads
    if not heads:
        raise SeqlabError(f"the model's attention is {type(parts.attention).__name__}; only "
                          "SeqSelfAttention weights can be shown")
    if not 0 <= head < len(heads):
        raise SeqlabError(f"head {head}: the model has {len(heads)} attention head"
                          f"{'s' if len(heads) != 1 else ''} (0 to {len(heads) - 1})",
                          argument="head")
    layer = heads[head]
    features = parts.features_model()
    config = {**layer.get_config(), "return_attention": True, "name": "attention_weights"}
    probe = SeqSelfAttention.from_config(config)
    encoded = tagger.encode([tokens])
    (_, inputs), = padded_batches(encoded, 1)
    inputs = tagger.with_encoded(inputs, [tokens])
    hidden = features(inputs, training=False)
    if isinstance(hidden, (list, tuple)):
        hidden = hidden[0]
    probe.build(hidden.shape)
    probe.set_weights(layer.get_weights())
    _, weights = probe(hidden, training=False)
    from keras import ops

    weights = np.asarray(ops.convert_to_numpy(weights))[0].astype(np.float64)
    width, history = layer.attention_width, layer.history_only
    return AttentionView(tokens, tagger.tag([tokens])[0], weights,
                         window_mask(len(tokens), width, history), width, history)


def _label(token: str, tag: str | None, limit: int = 18) -> str:
    token = token if len(token) <= limit else token[: limit - 1] + "…"
    return f"{token} {tag}" if tag else token


# --------------------------------------------------------------------------------------------
# PNG


def figure_size(n: int) -> tuple[float, float]:
    """Figure size in inches for ``n`` tokens (a square heatmap plus room for labels); the PNG
    is ``round(w * DPI) x round(h * DPI)`` pixels."""
    side = min(40.0, max(5.0, 2.5 + 0.32 * n))
    return side + 1.5, side


def png_size(n: int, dpi: int = DPI) -> tuple[int, int]:
    """(width, height) in pixels of the PNG drawn for ``n`` tokens."""
    w, h = figure_size(n)
    return round(w * dpi), round(h * dpi)


def render_png(view: AttentionView, path: str | Path | BinaryIO,
               dpi: int = DPI) -> tuple[int, int]:
    """Draw the heatmap into ``path`` (a file name or a binary file; PNG, matplotlib's Agg
    backend); returns its pixel size."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    n = len(view.tokens)
    data = np.ma.masked_where(~view.window, view.weights)
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="white")  # outside the window
    fig = plt.figure(figsize=figure_size(n), dpi=dpi)
    try:
        ax = fig.add_axes((0.22, 0.22, 0.62, 0.7))
        image = ax.imshow(data, cmap=cmap, vmin=0.0, vmax=max(float(data.max() or 0), 1e-9),
                          interpolation="nearest", aspect="auto")
        ticks = np.arange(n)
        font = max(4.0, min(10.0, 300.0 / max(n, 1)))
        ax.set_xticks(ticks, [_label(t, g) for t, g in zip(view.tokens, view.tags)],
                      rotation=90, fontsize=font)
        ax.set_yticks(ticks, [_label(t, g) for t, g in zip(view.tokens, view.tags)],
                      fontsize=font)
        ax.set_xlabel("attended to (key)")
        ax.set_ylabel("attending (query)")
        ax.set_title(f"SeqSelfAttention weights ({view.describe()})", fontsize=10)
        cax = fig.add_axes((0.87, 0.22, 0.025, 0.7))
        fig.colorbar(image, cax=cax)
        fig.savefig(path, dpi=dpi, format="png")
    finally:
        plt.close(fig)
    return png_size(n, dpi)


# --------------------------------------------------------------------------------------------
# Terminal


def render_terminal(view: AttentionView):
    """A Rich table: one row per query token (with its tag), one column per key token (by
    number); each cell shaded by its weight, blank outside the window."""
    from rich import box
    from rich.color import Color
    from rich.console import Group
    from rich.style import Style
    from rich.table import Table
    from rich.text import Text

    n = len(view.tokens)
    table = Table(box=box.SIMPLE, pad_edge=False, padding=(0, 0), show_edge=False,
                  title=f"attention ({view.describe()}): rows attend to columns")
    table.add_column("#", justify="right", style="dim")
    table.add_column("token", style="bold", no_wrap=True)
    table.add_column("tag", no_wrap=True)
    for j in range(n):
        table.add_column(str(j), justify="center", no_wrap=True, min_width=3)
    top = float(view.weights[view.window].max()) if view.window.any() else 1.0
    top = top or 1.0
    for i in range(n):
        cells = []
        for j in range(n):
            if not view.window[i, j]:
                cells.append(Text(""))
                continue
            w = float(view.weights[i, j])
            level = min(1.0, w / top)
            shade = Color.from_rgb(255 * (1 - level), 255 * (1 - 0.55 * level),
                                   255 * (1 - 0.2 * level))
            ink = "white" if level > 0.6 else "black"
            cells.append(Text(f"{round(100 * w):>3}", style=Style(color=ink, bgcolor=shade)))
        table.add_row(str(i), view.tokens[i], view.tags[i], *cells)
    legend = Text("cells: weight in percent; darker is more; blank: outside the window",
                  style="dim")
    return Group(table, legend)
