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


def _subparsers(parser, prefix=()):
    """(command path, parser) of every command and subcommand."""
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*prefix, name), sub
                yield from _subparsers(sub, (*prefix, name))


def test_every_option_of_every_command_has_help_and_shows_its_default():
    import argparse

    commands = dict(_subparsers(build_parser()))
    assert ("train",) in commands and ("data", "synth") in commands
    for path, parser in commands.items():
        text = parser.format_help()
        assert "``" not in text and ":func:" not in text, path
        for action in parser._actions:
            if not action.option_strings or isinstance(action, argparse._HelpAction):
                continue
            assert action.help, f"dtb {' '.join(path)} {action.option_strings[0]}: no help"
            flag = isinstance(action, argparse._StoreTrueAction)
            if not flag and not action.required:
                shown = parser._get_formatter()._get_help_string(action)
                assert "default" in shown, f"dtb {' '.join(path)} {action.option_strings[0]}"


def test_train_help_explains_the_profiles_from_their_table():
    from dtb.config import PROFILES, TrainConfig

    text = dict(_subparsers(build_parser()))[("train",)].format_help()
    for name in PROFILES:
        assert f"  {name} " in text
    quick = TrainConfig.for_profile("quick")
    assert f"at most {quick.max_epochs} epochs" in text and "zero-shot" in text


def test_bad_input_is_one_clear_message_and_nonzero_exit(tmp_path, capsys):
    assert main(["data", "check", str(tmp_path / "nowhere")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("dtb: error:") and "nowhere" in err
    (tmp_path / "ds").mkdir()
    assert main(["prepare", str(tmp_path / "ds"), "--out", str(tmp_path / "c")]) == 1
    assert "participants.tsv not found" in capsys.readouterr().err
