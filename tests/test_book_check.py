"""The browser check of the built book, on small pages with known faults."""

from __future__ import annotations

import pytest

from dtb.book_check import book_pages, check_book, chromium_available

pytestmark = pytest.mark.skipif(
    not chromium_available(), reason="needs Debian's chromium and chromium-driver"
)

_PNG = (  # a 1 x 1 transparent PNG
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00"
    b"\x00\x00\x00IEND\xaeB`\x82"
)


def _page(body: str) -> str:
    return "<html><body><article style='width:600px'>" + body + "</article></body></html>"


def _wide_table() -> str:
    cells = "".join(f"<td>column_{k}_with_a_long_name</td>" for k in range(40))
    return f"<table><tr>{cells}</tr></table>"


def test_each_kind_of_fault_is_found_and_a_clean_page_passes(tmp_path):
    html = tmp_path / "html"
    html.mkdir()
    (html / "dot.png").write_bytes(_PNG)
    pages = {
        "index.html": "<h1>Clean</h1><img src='dot.png'><p>r = 0.62</p>"
        f"<div style='overflow-x:auto'>{_wide_table()}</div>",
        "traceback.html": "<pre>Traceback (most recent call last):\n  File x</pre>",
        "warning.html": "<pre>TqdmWarning: IProgress not found.</pre>",
        "path.html": "<p>{'png': PosixPath('/work/main/results/quick/figures/a.png')}</p>",
        "image.html": "<img src='missing.png'>",
        "table.html": _wide_table(),
    }
    for name, body in pages.items():
        (html / name).write_text(_page(body))
    (html / "genindex.html").write_text(_page("<pre>Traceback (most recent call last)</pre>"))
    assert [p.name for p in book_pages(html)] == sorted(pages)
    shots = tmp_path / "shots"
    found = {(p.page, p.kind) for p in check_book(html, shots)}
    assert found == {
        ("traceback.html", "traceback"),
        ("warning.html", "warning"),
        ("path.html", "PosixPath"),
        ("path.html", "absolute path"),
        ("image.html", "image not loaded"),
        ("table.html", "table wider than the column"),
    }
    assert sorted(p.name for p in shots.iterdir()) == sorted(
        n.replace(".html", ".png") for n in pages
    )


def test_a_folder_without_a_built_book_is_refused(tmp_path):
    with pytest.raises(ValueError, match="no index.html"):
        book_pages(tmp_path)
