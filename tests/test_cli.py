import subprocess
import sys

import pytest

from dtb.cli import build_parser, main


def test_python_m_dtb_help_lists_every_command():
    out = subprocess.run(
        [sys.executable, "-m", "dtb", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for cmd in ("data", "prepare", "baselines", "reproduce"):
        assert cmd in out


@pytest.mark.parametrize(
    "argv",
    [
        ["data", "fetch", "--help"],
        ["data", "synth", "--help"],
        ["data", "check", "--help"],
        ["prepare", "--help"],
    ],
)
def test_every_subcommand_has_help(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(argv)
    assert exc.value.code == 0
    assert "usage: dtb" in capsys.readouterr().out


def test_bad_input_is_one_clear_message_and_nonzero_exit(tmp_path, capsys):
    assert main(["data", "check", str(tmp_path / "nowhere")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("dtb: error:") and "nowhere" in err
    (tmp_path / "ds").mkdir()
    assert main(["prepare", str(tmp_path / "ds"), "--out", str(tmp_path / "c")]) == 1
    assert "participants.tsv not found" in capsys.readouterr().err
