"""Check that the wheelhouse for the GPU machine is complete: every requirement of every wheel
(for Python 3.12 on x86-64 Linux) is another wheel of it or a package of the machine's image.

Usage::

    python benchmarks/wheelhouse_check.py .whl

Exits 1 and names each missing requirement; prints the wheelhouse's size.
"""

from __future__ import annotations

import sys
import zipfile
from email.parser import Parser
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename

#: Python packages of the GPU machine's image that the project uses as they are (with the
#: standard library, they need no wheel).
IMAGE = {
    canonicalize_name(n)
    for n in """
    torch numpy pandas scipy scikit-learn statsmodels matplotlib seaborn h5py tqdm pyyaml pytest
    hypothesis jinja2 joblib requests attrs psutil pygments click packaging lxml markupsafe
    markdown-it-py python-dateutil typing-extensions six certifi idna urllib3 charset-normalizer
    pyparsing threadpoolctl patsy pillow fonttools kiwisolver cycler contourpy mdurl aiohttp
    """.split()
}
#: The interpreter and platform the wheels are for.
ENVIRONMENT = {
    "python_version": "3.12",
    "python_full_version": "3.12.3",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "os_name": "posix",
    "extra": "",
}


def requirements(wheel: Path) -> list[Requirement]:
    """The unconditional requirements of a wheel (its METADATA's Requires-Dist, markers
    evaluated for :data:`ENVIRONMENT`, extras left out)."""
    with zipfile.ZipFile(wheel) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        headers = Parser().parsestr(z.read(meta).decode())
    out = []
    for line in headers.get_all("Requires-Dist") or []:
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate(ENVIRONMENT):
            out.append(req)
    return out


def main(argv: list[str]) -> int:
    folder = Path(argv[0] if argv else ".whl")
    wheels = sorted(folder.glob("*.whl"))
    if not wheels:
        print(f"{folder}: no wheels; run `make wheelhouse`", file=sys.stderr)
        return 1
    have = {canonicalize_name(parse_wheel_filename(w.name)[0]) for w in wheels} | IMAGE
    missing = [
        f"{w.name} needs {req}"
        for w in wheels
        for req in requirements(w)
        if canonicalize_name(req.name) not in have
    ]
    for m in missing:
        print(f"missing: {m}", file=sys.stderr)
    size = sum(w.stat().st_size for w in wheels) / 2**20
    print(f"{len(wheels)} wheels, {size:.1f} MiB, {len(missing)} missing requirement(s)")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
