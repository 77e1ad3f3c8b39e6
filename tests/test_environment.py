"""The install paths cannot drift: Makefile, environment.yml, README and CI agree."""

import re

import yaml
from conftest import REPO


def _makefile_spec() -> str:
    makefile = (REPO / "Makefile").read_text()
    m = re.search(r"^PIP_EXTRAS\s*:=\s*(.+)$", makefile, re.M)
    assert m, "Makefile defines PIP_EXTRAS"
    assert 'pip install --quiet -e ".[$(PIP_EXTRAS)]"' in makefile
    return f"-e .[{m.group(1).strip()}]"


def test_environment_yml_delegates_to_the_same_pip_install():
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    assert "conda-forge" in env["channels"]
    deps = env["dependencies"]
    pip_sections = [d["pip"] for d in deps if isinstance(d, dict)]
    assert pip_sections == [[_makefile_spec()]]
    # nothing but the interpreter and pip comes from conda, so the two installs cannot differ
    assert sorted(d.split("=")[0] for d in deps if isinstance(d, str)) == ["pip", "python"]


def test_torch_pinned_to_the_cpu_wheel_release():
    text = (REPO / "pyproject.toml").read_text()
    assert '"torch==2.13.0"' in text


def test_readme_starts_with_the_two_commands_and_ci_runs_the_test_one():
    readme = (REPO / "README.md").read_text()
    blocks = re.findall(r"```(?:bash|sh)?\n(.*?)```", readme, re.S)
    assert blocks, "README has a code block"
    assert blocks[0].split() == ["make", "reproduce", "make", "test"]
    ci = (REPO / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.M)
