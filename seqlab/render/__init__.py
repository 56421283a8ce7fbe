"""What seqlab shows a person: Rich tables on the terminal (:mod:`.tables`), the HTML pieces
shared by every page, Jinja2 templates, entity colours and sentences cut into spans
(:mod:`.pages`), and the one-page report of a run, ``seqlab report`` (:mod:`.run_page`).

The ``html`` output format of ``seqlab predict`` is written by
:mod:`seqlab.formats.html` with these pieces."""
