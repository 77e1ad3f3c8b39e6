import jupytext
import nbformat
import pytest

from dtb.notebooks import NotebookError, execute_notebook


def _write(path, cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    jupytext.write(nb, path, fmt="py:percent")


def test_parameters_are_injected_and_a_failing_cell_is_named(tmp_path):
    params = nbformat.v4.new_code_cell("x = 1")
    params.metadata["tags"] = ["parameters"]
    good = tmp_path / "good.py"
    _write(good, [params, nbformat.v4.new_code_cell("assert x == 5\nprint('x is', x)")])
    out = execute_notebook(good, tmp_path / "good.ipynb", {"x": 5}, cwd=tmp_path)
    text = out.read_text()
    assert "x is 5" in text
    tags = [c.metadata.get("tags", []) for c in nbformat.read(out, as_version=4).cells]
    # the parameters and papermill's injected cell (machine paths) leave the page; code folds
    assert tags[0] == ["parameters", "remove-cell"]
    assert tags[1] == ["injected-parameters", "remove-cell"]
    assert tags[2] == ["hide-input"]

    bad = tmp_path / "broken_figure.py"
    _write(
        bad,
        [
            params,
            nbformat.v4.new_code_cell("y = 2"),
            nbformat.v4.new_code_cell("raise RuntimeError('deliberately broken')"),
        ],
    )
    with pytest.raises(
        NotebookError, match=r"broken_figure\.py failed in cell .*deliberately broken"
    ):
        execute_notebook(bad, tmp_path / "bad.ipynb", {"x": 1}, cwd=tmp_path)
