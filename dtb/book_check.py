"""Open every page of the built book in headless Chromium and check what a reader sees.

A page fails on: a Python traceback, a warning or any stderr output, an absolute path of the
machine that built it, a ``PosixPath`` repr, an image that did not load, or a table wider than
the text column that cannot be scrolled. A screenshot of every page is kept.

Run after ``dtb reproduce``::

    python -m dtb.book_check book/_build/html --screenshots results/quick/screenshots

Needs Debian's ``chromium`` and ``chromium-driver`` packages (``/usr/bin/chromium``,
``/usr/bin/chromedriver``) and the ``selenium`` package.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
#: Pages of the Sphinx build that are not the book's own content.
SKIPPED_PAGES = {"genindex.html", "search.html", "py-modindex.html"}

# Runs inside each page; returns a list of [kind, detail]. The column is the article; a table
# may be wider only inside an element that scrolls (overflow-x auto or scroll).
_PAGE_SCRIPT = r"""
const problems = [];
const text = document.body.innerText;
const grab = (re, kind) => { const m = text.match(re); if (m) problems.push([kind, m[0]]); };
grab(/Traceback \(most recent call last\)[^\n]*/, "traceback");
grab(/\b\w*Warning: [^\n]{0,80}/, "warning");
grab(/PosixPath\([^)]*\)?/, "PosixPath");
grab(/(^|[\s'"(=:])\/(?:home|root|tmp|work|Users|var|opt|mnt|private)\/[^\s'")]+/, "absolute path");
document.querySelectorAll(".stderr, .output.stderr").forEach(e =>
  problems.push(["stderr output", e.innerText.slice(0, 80)]));
document.querySelectorAll("img").forEach(img => {
  if (!(img.complete && img.naturalWidth > 0)) problems.push(["image not loaded", img.src]);
});
const column = document.querySelector("article") || document.querySelector("main") || document.body;
const right = column.getBoundingClientRect().right;
document.querySelectorAll("table").forEach(t => {
  if (t.getBoundingClientRect().right <= right + 1) return;
  for (let e = t.parentElement; e && e !== column; e = e.parentElement) {
    const o = getComputedStyle(e).overflowX;
    if ((o === "auto" || o === "scroll") && e.getBoundingClientRect().right <= right + 1) return;
  }
  problems.push(["table wider than the column", (t.innerText || "").slice(0, 60)]);
});
return problems;
"""


@dataclass(frozen=True)
class Problem:
    """One thing wrong on one page."""

    page: str
    kind: str
    detail: str

    def __str__(self) -> str:
        return f"{self.page}: {self.kind}: {self.detail}"


def chromium_available() -> bool:
    """Whether Debian's Chromium and ChromeDriver are installed."""
    return Path(CHROMIUM).is_file() and Path(CHROMEDRIVER).is_file()


def book_pages(html_dir: Path | str) -> list[Path]:
    """The content pages of a built book (no index, search or static files)."""
    html_dir = Path(html_dir)
    if not (html_dir / "index.html").is_file():
        raise ValueError(f"{html_dir}: no index.html; build the book first (dtb reproduce)")
    return sorted(
        p
        for p in html_dir.rglob("*.html")
        if p.name not in SKIPPED_PAGES
        and not any(part.startswith(("_", ".")) for part in p.relative_to(html_dir).parts)
    )


def _driver(width: int):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    # The flags that keep Chromium from reaching for the network at start (closed machines).
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--window-size={width},900",
        f"--user-data-dir={tempfile.mkdtemp(prefix='dtb-chromium-')}",
    ):
        opts.add_argument(flag)
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)


def check_book(
    html_dir: Path | str, screenshots: Path | str | None = None, width: int = 1280
) -> list[Problem]:
    """Open every page in headless Chromium; return the problems found.

    Parameters
    ----------
    html_dir : path-like
        The built book (``book/_build/html``).
    screenshots : path-like, optional
        Folder for one full-page PNG per page (``<page>.png``).
    width : int
        Browser window width in pixels (a laptop's).

    Raises
    ------
    RuntimeError
        If Chromium or ChromeDriver is not installed.
    """
    if not chromium_available():
        raise RuntimeError(
            f"headless Chromium not found ({CHROMIUM}, {CHROMEDRIVER}); on Debian: "
            "apt-get install chromium chromium-driver"
        )
    html_dir = Path(html_dir).resolve()
    pages = book_pages(html_dir)
    if screenshots is not None:
        screenshots = Path(screenshots)
        screenshots.mkdir(parents=True, exist_ok=True)
    driver = _driver(width)
    problems = []
    try:
        for page in pages:
            name = str(page.relative_to(html_dir))
            driver.get(page.as_uri())
            found = driver.execute_script(_PAGE_SCRIPT)
            problems += [Problem(name, kind, detail) for kind, detail in found]
            if screenshots is not None:
                height = driver.execute_script("return document.body.scrollHeight")
                driver.set_window_size(width, min(max(int(height), 900), 16000))
                driver.save_screenshot(str(screenshots / (name.replace("/", "_")[:-5] + ".png")))
                driver.set_window_size(width, 900)
    finally:
        driver.quit()
    return problems


def main(argv: list[str] | None = None) -> int:
    """Command line: check a built book; exit 1 when any page has a problem."""
    p = argparse.ArgumentParser(prog="python -m dtb.book_check", description=__doc__.split("\n")[0])
    p.add_argument("html", type=Path, help="the built book (book/_build/html)")
    p.add_argument("--screenshots", type=Path, default=None, help="folder for page screenshots")
    args = p.parse_args(argv)
    try:
        problems = check_book(args.html, args.screenshots)
    except (RuntimeError, ValueError) as exc:
        print(f"book check: {exc}", file=sys.stderr)
        return 2
    n = len(book_pages(args.html))
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"book check: {n} page(s) opened in Chromium, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
