import subprocess
import sys


def test_aggregation_does_not_import_torch():
    code = ("import sys, crowdlearn, crowdlearn.aggregation, crowdlearn.annotations; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_learners_are_reachable_from_the_top_level():
    import crowdlearn
    from crowdlearn.learners import MBEM

    assert crowdlearn.MBEM is MBEM
