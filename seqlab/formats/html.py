"""HTML output of tagged text: each sentence with its spans highlighted by type (a stable
colour a type, a legend at the top), like displaCy. Written as it goes: the page's head
first, then each sentence, so a long input is never held whole."""

from __future__ import annotations

from typing import TextIO

from seqlab.formats.record import SENTENCE, Record


class HtmlWriter:
    """``write(out, record)`` for each record, between ``begin(out)`` and ``end(out)``."""

    def __init__(self, types: list[str], chunked: bool = True, title: str = "Tagged text") -> None:
        from seqlab.render.pages import environment

        self.types, self.chunked, self.title = types, chunked, title
        self.count = 0
        self.macro = environment().get_template("spans.html.j2").module.sentence

    def begin(self, out: TextIO) -> None:
        from seqlab.render.pages import render

        out.write(render("tagged_begin.html.j2", title=self.title,
                         types=self.types if self.chunked else []))

    def __call__(self, out: TextIO, record: Record) -> None:
        if record.kind != SENTENCE or not record.tokens:
            return
        from seqlab.render.pages import segments

        self.count += 1
        out.write(str(self.macro(segments(record.tokens, record.tags, self.chunked,
                                          found=record.spans),
                                 self.count)) + "\n")

    def end(self, out: TextIO) -> None:
        from seqlab.render.pages import render

        out.write(render("tagged_end.html.j2", count=self.count))
