"""Simulators: label noise, annotator crowds and budget allocation (no torch import).

- :mod:`~crowdlearn.simulate.label_noise` — one noisy label per item: :func:`symmetric`,
  :func:`pairflip`, :func:`from_transition`, :func:`instance_dependent`; each returns
  ``(noisy labels, realised transition)``.
- :mod:`~crowdlearn.simulate.crowd` — worker models (:class:`Crowd`: a confusion matrix per
  worker, class groups, copiers) and :meth:`Crowd.annotate` → :class:`~crowdlearn.Annotations`.
- :mod:`~crowdlearn.simulate.budget` — :func:`assign`: a budget of B labels at redundancy r.

Example::

    from crowdlearn import simulate
    crowd = simulate.hammer_spammer(n_workers=20, n_classes=10, gamma=0.35, seed=0)
    assignment = simulate.assign(len(y), 20, redundancy=1, budget=1200, seed=0)
    answers = crowd.annotate(y, assignment, seed=0)
"""

from crowdlearn.simulate.budget import assign
from crowdlearn.simulate.crowd import (
    Crowd,
    annotate,
    classwise_hammer_spammer,
    diagonal,
    from_matrices,
    grouped,
    hammer_spammer,
    maxmig_case,
)
from crowdlearn.simulate.label_noise import (
    NoisyLabels,
    from_transition,
    instance_dependent,
    pairflip,
    pairflip_matrix,
    realised_transition,
    symmetric,
    symmetric_matrix,
)

__all__ = ["Crowd", "NoisyLabels", "annotate", "assign", "classwise_hammer_spammer", "diagonal",
           "from_matrices", "from_transition", "grouped", "hammer_spammer", "instance_dependent",
           "maxmig_case", "pairflip", "pairflip_matrix", "realised_transition", "symmetric",
           "symmetric_matrix"]
