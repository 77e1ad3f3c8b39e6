"""Open a notebook in JupyterLab in headless Chromium, run all its cells, check its widgets render.

Starts JupyterLab on a free local port (no token, no browser) in a scratch folder holding the
notebook (a jupytext ``.py`` is converted to ``.ipynb`` there, with its parameters replaced),
opens it in headless Chromium, runs every cell from the Run menu, waits for the ipywidgets
controls to appear and saves a screenshot. Fails on a cell error or when no widget renders.

    python -m dtb.lab_check notebooks/explore_twin.py --screenshot results/quick/lab.png

Needs JupyterLab and ipywidgets (``make lab`` installs them) and Debian's Chromium.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dtb.book_check import _driver, chromium_available


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _notebook(source: Path, folder: Path, parameters: dict) -> Path:
    """The notebook as ``.ipynb`` in ``folder``, with the given values in its parameters cell."""
    import jupytext
    import nbformat

    nb = jupytext.read(source)
    for cell in nb.cells:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            # the given values after the defaults, as papermill injects them
            cell.source += "".join(f"\n{k} = {v!r}" for k, v in parameters.items())
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    dest = folder / (source.stem + ".ipynb")
    nbformat.write(nb, dest)
    return dest


def _settings(folder: Path) -> Path:
    """JupyterLab user settings for the check: every cell rendered (no windowing, so outputs
    far down the page exist in the page), and no news pop-up."""
    settings = folder / "lab-settings"
    for plugin, values in {
        "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
        "@jupyterlab/apputils-extension/notification": {"fetchNews": "false"},
    }.items():
        package, name = plugin.rsplit("/", 1)
        path = settings / package / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    return settings


def _wait_for_server(port: int, timeout: float) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise RuntimeError(f"JupyterLab did not listen on port {port} within {timeout:.0f} s")


def _started(driver) -> bool:
    """Whether any cell is running or has run (its prompt shows ``[*]`` or a number)."""
    return driver.execute_script(
        "return [...document.querySelectorAll('.jp-InputPrompt')]"
        ".some(p => /\\[(\\*|\\d+)\\]/.test(p.innerText));"
    )


def _click_run_all(driver, wait) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    menu = "//div[contains(@class,'lm-MenuBar-itemLabel') and normalize-space()='Run']"
    wait.until(ec.element_to_be_clickable((By.XPATH, menu))).click()
    item = "//div[contains(@class,'lm-Menu-itemLabel') and normalize-space()='Run All Cells']"
    wait.until(ec.element_to_be_clickable((By.XPATH, item))).click()


def _run_all(driver, timeout: float) -> dict:
    """Run All Cells from the menu; wait for widgets or an error; return what was seen."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, timeout)
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, ".jp-Notebook .jp-Cell")))
    # the kernel must be idle before the run: its status shows in the toolbar
    wait.until(
        lambda d: d.execute_script(
            "const s=document.querySelector('.jp-Notebook-ExecutionIndicator');"
            "return s && s.getAttribute('data-status') === 'idle';"
        )
    )
    # focus the notebook, then Run > Run All Cells; again if no cell started (a click can land
    # before the panel is ready on a slow machine)
    first = driver.find_element(By.CSS_SELECTOR, ".jp-Notebook .jp-Cell")
    driver.execute_script("arguments[0].scrollIntoView();", first)
    first.click()
    for _ in range(3):
        _click_run_all(driver, wait)
        try:
            WebDriverWait(driver, 30).until(_started)
            break
        except TimeoutException:
            continue
    # done when a widget shows, or when an output shows an error
    wait.until(
        lambda d: d.execute_script(
            "return document.querySelectorAll('.jp-OutputArea-output .widget-dropdown').length"
            " > 0 || [...document.querySelectorAll('.jp-OutputArea-output')]"
            ".some(e => /Traceback|Error/.test(e.innerText));"
        )
    )
    time.sleep(2)  # let the first redraw's figure arrive
    driver.execute_script(  # the explorer in view for the screenshot
        "const w = document.querySelector('.jp-OutputArea-output .jupyter-widgets');"
        "if (w) w.scrollIntoView();"
    )
    time.sleep(0.5)
    return driver.execute_script(
        """return {
          widgets: document.querySelectorAll('.jp-OutputArea-output .jupyter-widgets').length,
          dropdowns: document.querySelectorAll('.jp-OutputArea-output .widget-dropdown').length,
          sliders: document.querySelectorAll('.jp-OutputArea-output .widget-slider').length,
          errors: [...document.querySelectorAll('.jp-OutputArea-output')]
            .map(e => e.innerText).filter(t => /Traceback|Error:/.test(t)).slice(0, 2),
          status: [...document.querySelectorAll('.widget-html-content')]
            .map(e => e.innerText).filter(t => /redrawn in/.test(t)),
        };"""
    )


def check_lab(
    notebook: Path | str,
    screenshot: Path | str,
    parameters: dict | None = None,
    timeout: float = 180.0,
) -> dict:
    """Run ``notebook`` in JupyterLab in headless Chromium; return what rendered.

    Returns
    -------
    seen : dict
        Counts of rendered widgets, dropdowns and sliders, the explorer's redraw status, and any
        error text of an output.

    Raises
    ------
    RuntimeError
        When Chromium or JupyterLab is missing, a cell failed or no widget rendered.
    """
    if not chromium_available():
        raise RuntimeError("headless Chromium not found (apt-get install chromium chromium-driver)")
    from selenium.common.exceptions import WebDriverException

    source = Path(notebook).resolve()
    with tempfile.TemporaryDirectory(prefix="dtb-lab-") as tmp:
        folder = Path(tmp)
        nb = _notebook(source, folder, parameters or {})
        env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(_settings(folder))}
        port = _free_port()
        cmd = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--allow-root",
            f"--port={port}",
            "--ip=127.0.0.1",
            "--IdentityProvider.token=",
            "--ServerApp.password=",
            f"--ServerApp.root_dir={folder}",
            "--ServerApp.disable_check_xsrf=True",
        ]
        log = open(folder / "jupyterlab.log", "w")  # noqa: SIM115 (closed below)
        server = subprocess.Popen(
            cmd, cwd=source.parent, stdout=log, stderr=subprocess.STDOUT, env=env
        )
        driver = None
        try:
            _wait_for_server(port, 60)
            driver = _driver(1400)
            driver.set_window_size(1400, 1300)
            Path(screenshot).parent.mkdir(parents=True, exist_ok=True)
            for _ in range(2):  # once more, from a fresh page, if the browser was interrupted
                driver.get(f"http://127.0.0.1:{port}/lab/tree/{nb.name}")
                try:
                    seen = _run_all(driver, timeout)
                    break
                except WebDriverException as exc:  # a timeout, or a click that missed
                    seen = {"errors": [f"{type(exc).__name__}: {exc.msg or ''}"], "dropdowns": 0}
            driver.save_screenshot(str(screenshot))
        finally:
            if driver is not None:
                driver.quit()
            server.terminate()
            server.wait(timeout=30)
            log.close()
            tail = (folder / "jupyterlab.log").read_text()[-1500:]
    if seen["errors"] or not seen["dropdowns"]:
        raise RuntimeError(f"the notebook's widgets did not render: {seen}\n{tail}")
    return seen


def main(argv: list[str] | None = None) -> int:
    """Command line: check a notebook in JupyterLab; exit 1 when its widgets do not render."""
    p = argparse.ArgumentParser(prog="python -m dtb.lab_check", description=__doc__.split("\n")[0])
    p.add_argument("notebook", type=Path, help="a jupytext .py notebook")
    p.add_argument("--screenshot", type=Path, required=True, help="PNG of the rendered notebook")
    p.add_argument(
        "--param",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="a parameter of the notebook (repeatable)",
    )
    args = p.parse_args(argv)
    try:
        seen = check_lab(args.notebook, args.screenshot, dict(args.param))
    except RuntimeError as exc:
        print(f"lab check: {exc}", file=sys.stderr)
        return 1
    print(
        f"lab check: {seen['dropdowns']} dropdown(s), {seen['sliders']} slider(s) rendered; "
        f"{'; '.join(seen['status']) or 'no redraw status'}; screenshot {args.screenshot}"
    )
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
