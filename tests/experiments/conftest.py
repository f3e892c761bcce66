"""Fixtures shared by the sweep tests."""

from __future__ import annotations

import pytest

import crowdlearn.learners as learners


@pytest.fixture
def learners_built(monkeypatch):
    """``learners_built("make_crowd_learner")`` wraps that factory of
    :mod:`crowdlearn.learners` for the test and returns the list it fills with the name of
    every method built: how a test sees which cells a resumed sweep recomputes."""

    def wrap(factory: str) -> list[str]:
        calls: list[str] = []
        real = getattr(learners, factory)

        def counting(name, **kw):
            calls.append(name)
            return real(name, **kw)

        monkeypatch.setattr(learners, factory, counting)
        return calls

    return wrap
