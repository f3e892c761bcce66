"""The same fit in two fresh processes gives bit-identical weights (the first fit of a
process used to be suspected of differing: MKL's dynamic threads were never ruled out)."""

from __future__ import annotations

import subprocess
import sys

FIT = """
import hashlib, sys
import numpy as np
from crowdlearn import simulate as sim
from crowdlearn.datasets import load
from crowdlearn.learners import make_crowd_learner
from crowdlearn.simulate import assign

data = load("digits", "train")
rng = np.random.default_rng(0)
crowd = sim.hammer_spammer(20, 10, 0.35, rng)
ann = crowd.annotate(data.y, assign(len(data.y), 20, 3, 900, rng), rng)
model = make_crowd_learner(sys.argv[1], model="mlp", epochs=3, seed=0)
model.fit(data.X[: ann.n_tasks], ann)
digest = hashlib.sha256()
for _, tensor in sorted(model.model_.state_dict().items()):
    digest.update(tensor.detach().cpu().numpy().tobytes())
print(digest.hexdigest())
"""


def fit_in_fresh_process(method: str) -> str:
    """Fit in a new interpreter with torch's default threads (no OMP/MKL variables)."""
    proc = subprocess.run([sys.executable, "-c", FIT, method], capture_output=True, text=True,
                          timeout=300, env={"PATH": ""})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()[-1]


def test_two_fresh_processes_give_bit_identical_weights():
    first = fit_in_fresh_process("soft-mv")
    assert len(first) == 64
    assert fit_in_fresh_process("soft-mv") == first
