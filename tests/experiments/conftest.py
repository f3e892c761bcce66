"""Fixtures shared by the sweep tests."""

from __future__ import annotations

import pytest

import crowdlearn.learners as learners


@pytest.fixture
def learners_built(monkeypatch):
    """``learners_built("make_crowd_learner")`` wraps that factory of
    :mod:`crowdlearn.learners` for the test and returns the list it fills with the name of
    every method built and trained (a sweep also builds each method once to check its
    settings): how a test sees which cells a resumed sweep recomputes."""

    def wrap(factory: str) -> list[str]:
        calls: list[str] = []
        real = getattr(learners, factory)

        def counting(name, **kw):
            learner = real(name, **kw)
            fit = learner.fit

            def counted(*args, **kwargs):  # built and trained: a cell that runs
                calls.append(name)
                return fit(*args, **kwargs)

            learner.fit = counted
            return learner

        monkeypatch.setattr(learners, factory, counting)
        return calls

    return wrap
