"""The HTML pages in a real browser: headless Chromium renders `seqlab report` and a
`predict --format html` page to a PNG and to its DOM. The pages are not blank, show the
entity spans of a known sentence with their types, and make no network request.

Chromium is Debian's `chromium` package (.ci/run installs it); without it these tests skip
and say so."""

import json
import shutil
import subprocess

import numpy as np
import pytest

from seqlab.schemes import get_chunks

BROWSER = next((shutil.which(name) for name in ("chromium", "chromium-browser",
                                                "google-chrome") if shutil.which(name)), None)
pytestmark = [pytest.mark.skipif(
    BROWSER is None, reason="Chromium is not installed (apt-get install -y chromium; .ci/run "
                            "installs it): the pages cannot be rendered in a real browser"),
    pytest.mark.slow]  # a fresh Chromium process a test


def chromium(page, tmp_path, *args):
    """Run headless Chromium on a local page with every host unresolvable; returns its
    stdout and the URLs the page asked for (from Chromium's network log: the requests whose
    network isolation key is the file:// page's, not the browser's own background calls)."""
    netlog = tmp_path / f"{page.stem}-net.json"
    proc = subprocess.run(
        [BROWSER, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--no-first-run", "--disable-extensions", "--disable-background-networking",
         "--host-resolver-rules=MAP * ~NOTFOUND", f"--log-net-log={netlog}",
         f"--user-data-dir={tmp_path / 'profile'}", *args, page.resolve().as_uri()],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    urls = set()
    text = netlog.read_text(encoding="utf-8", errors="replace").rstrip().rstrip(",")
    if not text.endswith("}"):
        text += "]}"  # a log cut at exit: close its event list
    log = json.loads(text)
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    for event in log.get("events", []):
        params = event.get("params") or {}
        if event.get("type") == start and "file://" in params.get("network_isolation_key", ""):
            urls.add(params["url"])
    return proc.stdout, urls


def check_page(page, tmp_path, coloured=True):
    """Screenshot (not blank; with ``coloured``, some coloured spans drawn) and DOM of a page;
    no request left the machine."""
    png = tmp_path / f"{page.stem}.png"
    _, urls = chromium(page, tmp_path, f"--screenshot={png}", "--window-size=1000,1400")
    import matplotlib.image

    pixels = matplotlib.image.imread(png)[:, :, :3]
    assert (pixels < 0.5).mean() > 0.001, "the page looks blank"
    if coloured:
        hue = np.abs(pixels - pixels.mean(axis=2, keepdims=True)).max(axis=2) > 0.1
        assert hue.mean() > 0.001, "no coloured span is drawn"
    dom, more = chromium(page, tmp_path, "--dump-dom")
    remote = {u for u in urls | more if not u.startswith(("file:", "data:"))}
    assert remote == set(), f"the page asked the network for {sorted(remote)}"
    return dom


def spans_in(dom):
    """(type, text) of every highlighted span in a DOM."""
    import re

    return re.findall(r'<mark class="entity[^"]*" data-type="([^"]+)"[^>]*>([^<]+)<span', dom)


def test_the_network_check_sees_a_page_that_loads_from_the_network(tmp_path):
    """The check can fail: a page with an external image and style sheet is caught."""
    page = tmp_path / "external.html"
    page.write_text('<html><body><img src="https://example.com/x.png">'
                    '<link rel="stylesheet" href="http://example.org/a.css">hi</body></html>')
    _, urls = chromium(page, tmp_path, "--dump-dom")
    assert urls == {"https://example.com/x.png", "http://example.org/a.css"}


def test_a_tagged_page_shows_the_known_sentence_with_its_types(tmp_path):
    import io

    from seqlab.formats import Record, writer

    write = writer("html", "text", labels=["O", "B-PER", "I-PER", "B-LOC", "I-LOC"])
    out = io.StringIO()
    write.begin(out)
    write(out, Record(tokens=["Peter", "Blackburn", "flew", "to", "São", "Paulo", "."],
                      tags=["B-PER", "I-PER", "O", "O", "B-LOC", "I-LOC", "O"]))
    write(out, Record(tokens=["<script>alert(1)</script>"], tags=["B-PER"]))
    write.end(out)
    page = tmp_path / "tagged.html"
    page.write_text(out.getvalue(), encoding="utf-8")
    dom = check_page(page, tmp_path)
    found = spans_in(dom)
    assert ("PER", "Peter Blackburn") in found and ("LOC", "São Paulo") in found
    assert ("PER", "&lt;script&gt;alert(1)&lt;/script&gt;") in found  # escaped, not run
    assert 'class="legend"' in dom and "2 sentences tagged" in dom


def test_predict_format_html_in_the_browser(trained, tmp_path):
    from typer.testing import CliRunner

    from seqlab.cli import app
    from seqlab.tagger import Tagger

    source = tmp_path / "in.txt"
    sentences = ["Maria flew to Oslo .", "The EU met in Bonn"]
    source.write_text("\n".join(sentences) + "\n", encoding="utf-8")
    page = tmp_path / "predicted.html"
    result = CliRunner().invoke(app, ["predict", str(trained / "model.keras"), str(source),
                                      "-f", "html", "-o", str(page)])
    assert result.exit_code == 0, result.output
    tagger = Tagger.load(trained / "model.keras")
    expected = [(kind, " ".join(tokens[a:b]))
                for tokens, tags in zip([s.split() for s in sentences],
                                        tagger.tag([s.split() for s in sentences]))
                for kind, a, b in get_chunks(tags)]
    dom = check_page(page, tmp_path, coloured=bool(expected))
    assert spans_in(dom) == expected
    assert dom.count('class="sentence"') == 2


def test_the_report_in_the_browser(trained, tmp_path):
    from seqlab.render.run_page import write_report

    page = write_report(trained, tmp_path / "report.html")
    dom = check_page(page, tmp_path)
    for heading in ("The run", "Training curves", "Scores", "Tag confusion", "dev sentences "
                    "with the most errors", "Attention"):
        assert heading in dom, heading
    predictions = [json.loads(line) for line in
                   (trained / "dev_predictions.jsonl").read_text(encoding="utf-8").splitlines()]
    # the gold spans of the first error sentence shown, with their types
    import re

    first = int(re.search(r'<tr class="pair" data-sentence="(\d+)"', dom).group(1))
    row = dom[dom.index(f'data-sentence="{first}"'):]
    row = row[:row.index("</tr>")]
    gold = predictions[first - 1]
    gold_part = row[:row.index("predicted")]
    assert spans_in(gold_part) == [(k, " ".join(gold["tokens"][a:b]))
                                   for k, a, b in get_chunks(gold["gold"])]
    assert dom.count('<svg') >= 3  # the curves, inline
    assert dom.count('class="heat"') >= 1
