"""HTML pages: the Jinja2 templates (``seqlab/templates``), entity colours, and sentences cut
into spans for display. Used by ``predict --format html`` and ``seqlab report``; the pages
are self-contained (CSS inline, no script, no network)."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from functools import lru_cache

from seqlab.schemes import get_chunks, spans

# displaCy's colours for the usual entity types; any other type gets a stable colour of its
# own from its name.
_COLOURS = {
    "PER": "#aa9cfc", "PERSON": "#aa9cfc", "LOC": "#ff9561", "GPE": "#feca74",
    "ORG": "#7aecec", "MISC": "#bfeeb7", "NORP": "#c887fb", "DATE": "#bfe1d9",
    "NP": "#e4e7d2", "VP": "#f0d0ff", "PP": "#ffeb80",
}


def colour(kind: str) -> str:
    """The background colour of a span type: displaCy's for common types, else one derived
    from the name (the same in every page and run)."""
    if kind in _COLOURS:
        return _COLOURS[kind]
    hue = zlib.crc32(kind.encode("utf-8")) % 360
    return f"hsl({hue}, 70%, 80%)"


def types_of(labels: Sequence[str]) -> list[str]:
    """The span types of a tag set, sorted (``B-PER`` -> ``PER``)."""
    from seqlab.schemes import parse_tag

    return sorted({parse_tag(label)[1] for label in labels if parse_tag(label)[0] not in ("", "O")})


def segments(tokens: Sequence[str], tags: Sequence[str], chunked: bool = True,
             gold: Sequence[str] | None = None, found: Sequence | None = None) -> list[dict]:
    """A sentence as display pieces: ``{"text", "type"}`` for a span (``type`` None for text
    outside spans); for plain tags, one piece a token with its ``tag`` (and ``wrong`` when
    ``gold`` is given and differs). With ``gold`` and chunks, each span says whether it is
    ``wrong`` (not a gold span). ``found``: the tagger's spans with their scores (each
    piece then has its ``score``), instead of those read off ``tags``."""
    if not chunked:
        return [{"text": t, "tag": tag, "wrong": gold is not None and gold[i] != tag}
                for i, (t, tag) in enumerate(zip(tokens, tags))]
    gold_chunks = set(get_chunks(gold)) if gold is not None else None
    out, position = [], 0
    for s in (found if found is not None else spans(tokens, tags)):
        if s.start > position:
            out.append({"text": " ".join(tokens[position:s.start]), "type": None})
        wrong = gold_chunks is not None and (s.type, s.start, s.end) not in gold_chunks
        out.append({"text": s.text, "type": s.type, "wrong": wrong, "score": s.score})
        position = s.end
    if position < len(tokens):
        out.append({"text": " ".join(tokens[position:]), "type": None})
    return out


@lru_cache(maxsize=1)
def environment():
    """The Jinja2 environment of seqlab's templates (HTML autoescaped)."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("seqlab", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]),
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.globals["colour"] = colour
    return env


def render(name: str, **context) -> str:
    return environment().get_template(name).render(**context)
