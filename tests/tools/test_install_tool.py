"""tools/install.py: pip's configured sources become uv's flags, and pip is the fallback."""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[2] / "tools" / "install.py"


@pytest.fixture(scope="module")
def install():
    spec = importlib.util.spec_from_file_location("install_tool", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CONFIG_LIST = """\
:env:.cert='/etc/ssl/certs/ca-certificates.crt'
:env:.find-links='/opt/wheels'
global.constraint='/etc/xdg/pip/constraints.txt'
global.extra-index-url='file:///opt/pypi/simple file:///opt/pypi-more/simple'
global.find-links='/somewhere/else'
install.index-url="https://mirror.example/simple"
user.timeout='60'
"""


def test_pip_settings_take_the_most_specific_scope(install):
    settings = install.pip_settings(CONFIG_LIST)
    assert settings == {
        "find-links": "/opt/wheels",  # the environment over global
        "constraint": "/etc/xdg/pip/constraints.txt",
        "extra-index-url": "file:///opt/pypi/simple file:///opt/pypi-more/simple",
        "index-url": "https://mirror.example/simple",
    }


def test_uv_flags_split_space_separated_values(install):
    args = install.uv_source_args(install.pip_settings(CONFIG_LIST))
    assert args == [
        "--index-url",
        "https://mirror.example/simple",
        "--extra-index-url",
        "file:///opt/pypi/simple",
        "--extra-index-url",
        "file:///opt/pypi-more/simple",
        "--find-links",
        "/opt/wheels",
        "--constraint",
        "/etc/xdg/pip/constraints.txt",
    ]


def test_no_index_is_passed_on(install):
    assert install.uv_source_args({"no-index": "true"}) == ["--no-index"]
    assert install.uv_source_args({"no-index": "false"}) == []


def test_pip_installs_when_uv_fails(install, monkeypatch):
    calls = []

    def run(command, **kwargs):
        calls.append(command)
        return subprocess.CompletedProcess(command, 1 if command[0] == "/bin/uv" else 0, "")

    monkeypatch.setattr(install, "find_uv", lambda: "/bin/uv")
    monkeypatch.setattr(install.subprocess, "run", run)
    assert install.main(["-e", "."]) == 0
    assert calls[-1] == [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-compile",
        "-e",
        ".",
    ]
    assert any(c[0] == "/bin/uv" for c in calls)


def test_fma_installer_pip_skips_uv(install, monkeypatch):
    monkeypatch.setenv("FMA_INSTALLER", "pip")
    monkeypatch.setattr(install, "find_uv", lambda: pytest.fail("uv was looked for"))
    calls = []

    def run(command, **kwargs):
        calls.append(command)
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(install.subprocess, "run", run)
    assert install.main(["pkg"]) == 0
    assert calls == [[sys.executable, "-m", "pip", "install", "--quiet", "--no-compile", "pkg"]]


def test_a_module_that_fails_to_import_after_uv_is_reinstalled_with_pip(
    install, monkeypatch, capsys
):
    calls = []
    real_run = subprocess.run

    def run(command, **kwargs):
        if command[1] == "-c":  # the import checks run for real, in a new interpreter
            return real_run(command, **kwargs)
        calls.append(command)
        return subprocess.CompletedProcess(command, 0, "")

    monkeypatch.setattr(install, "find_uv", lambda: "/bin/uv")
    monkeypatch.setattr(install.subprocess, "run", run)
    assert install.main(["-e", "."], check_imports=["json", "no_such_module_here"]) == 0
    assert calls[-1][-3:] == ["--force-reinstall", "--no-deps", "no_such_module_here"]
    assert calls[-2][0] == "/bin/uv"  # uv installed first; json imported and was left alone
    message = capsys.readouterr().err
    assert "no_such_module_here: ModuleNotFoundError: No module named" in message  # why


def test_the_import_check_is_a_new_interpreters_not_the_installers(install, monkeypatch):
    """The installing process started before the install: what it imported or cached then
    must not decide. A module broken in this process only imports in the check, and nothing
    is repaired; one that fails in a new interpreter too is reported with its error."""
    monkeypatch.setitem(sys.modules, "json", None)  # `import json` fails here, and only here
    with pytest.raises(ImportError):
        importlib.import_module("json")
    assert install.broken_imports(["json"]) == {}
    broken = install.broken_imports(["no_such_module_here"])
    assert broken == {
        "no_such_module_here": "ModuleNotFoundError: No module named 'no_such_module_here'"
    }


def test_the_repair_keeps_the_version_uv_installed(install, monkeypatch):
    calls = []
    monkeypatch.setattr(
        install.subprocess,
        "run",
        lambda c, **k: calls.append(c) or subprocess.CompletedProcess(c, 0),
    )
    assert install.repair_with_pip({"pytest": ""}) == 0
    assert calls[-1][-1] == f"pytest=={importlib.metadata.version('pytest')}"
