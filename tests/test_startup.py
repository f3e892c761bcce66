"""The command line starts fast (the library's heavy parts load in the commands that use
them) and a signal while it starts ends it as during a command, without a traceback."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import crowdlearn

HEAVY = ("numpy", "pandas", "scipy", "sklearn", "torch", "matplotlib", "pyarrow", "pydantic")


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=300, check=True)


def test_starting_imports_none_of_the_heavy_libraries_and_the_names_still_resolve():
    out = _python(f"""
        import json, sys
        import crowdlearn
        bare = [m for m in {HEAVY!r} if m in sys.modules]
        import crowdlearn.cli
        cli = [m for m in {HEAVY!r} if m in sys.modules]
        from crowdlearn.plan import WorkerPool  # binds the submodule `plan` to the package
        print(json.dumps({{"bare": bare, "cli": cli, "plan": crowdlearn.plan.__module__,
                          "torch": "torch" in sys.modules,
                          "ds": crowdlearn.aggregation.DawidSkene.__name__}}))
    """)
    found = json.loads(out.stdout)
    assert found["bare"] == [] and found["cli"] == [], found
    # the function, not the module: `crowdlearn.plan(pilot, budget)` as before
    assert found["plan"] == "crowdlearn.plan" and not found["torch"]
    assert found["ds"] == "DawidSkene"  # a submodule is an attribute, as when loaded eagerly


def test_every_public_name_resolves():
    for name in crowdlearn.__all__:
        assert getattr(crowdlearn, name) is not None, name
    assert callable(crowdlearn.plan) and isinstance(crowdlearn.__version__, str)
    assert set(crowdlearn.__all__) <= set(dir(crowdlearn))
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        crowdlearn.nothing_here  # noqa: B018


def test_the_help_tables_written_out_match_the_registry():
    from crowdlearn import cli
    from crowdlearn.annotations import KEEP_CHOICES
    from crowdlearn.methods import available_aggregators

    assert [m.value for m in cli.Method] == list(available_aggregators())
    assert cli.AGGREGATE_METHODS == available_aggregators()
    assert [k.value for k in cli.Keep] == list(KEEP_CHOICES)
    for option, users in cli.AGGREGATE_OPTION_USERS.items():
        assert users == cli._aggregators_with(option), option


# a start-up whose imports take long (as on a busy machine): the signal arrives during them
SLOW_START = """
    import sys, time

    class Slow:
        def find_spec(self, name, path=None, target=None):
            if name == "crowdlearn.cli":
                print("importing", flush=True)
                time.sleep(60)
            return None

    sys.meta_path.insert(0, Slow())
    sys.argv = ["crowdlearn", "--help"]
    from crowdlearn._entry import main
    main()
"""


@pytest.mark.parametrize("signum, code, said", [(signal.SIGINT, 130, "interrupted"),
                                                (signal.SIGTERM, 143, "terminated (SIGTERM)")])
def test_a_signal_while_importing_stops_as_during_a_command(signum, code, said):
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(SLOW_START)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_default_sigint)
    try:
        assert proc.stdout.readline().strip() == "importing"
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == code, err
    assert err.strip() == said and "Traceback" not in err


def test_ctrl_c_early_in_the_real_command_says_no_traceback():
    script = Path(sys.executable).parent / "crowdlearn"
    if not script.exists():
        script = shutil.which("crowdlearn")
    if script is None:
        pytest.skip("the crowdlearn console script is not installed")
    # Python's own start-up and the script's `import re` come before crowdlearn's code can
    # catch anything: wait well past them (later, typer still exits 130 on Ctrl-C)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import re"], check=True)
    delay = max(0.3, 2 * (time.perf_counter() - started))
    for _ in range(8):
        proc = subprocess.Popen([str(script), "--help"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint)
        time.sleep(delay)
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        if proc.returncode == 0:  # it ended before the signal: sooner
            delay /= 2
        elif proc.returncode == -signal.SIGINT:  # before Python's own start-up was over
            delay *= 1.5
        else:
            assert proc.returncode == 130, err
            assert "Traceback" not in err
            return
    pytest.skip("the signal never reached crowdlearn's start-up (a busy machine's timing)")


def _default_sigint() -> None:
    """In the child: Ctrl-C as a terminal delivers it, even when the tests run as a
    background job (whose processes start with SIGINT ignored, and Python then installs no
    KeyboardInterrupt handler)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_python_dash_m_runs_the_command_line():
    proc = subprocess.run([sys.executable, "-m", "crowdlearn", "--help"], capture_output=True,
                          text=True, timeout=120, env={"COLUMNS": "200", "PATH": ""})
    assert proc.returncode == 0, proc.stderr
    assert "aggregate" in proc.stdout and "label-issues" in proc.stdout
