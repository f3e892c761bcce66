"""An obviously-correct, loop-based Dawid–Skene used to check the vectorised kernel."""

from __future__ import annotations

import numpy as np


def reference_dawid_skene(task, worker, label, n_tasks, n_workers, k, *, n_iter, smoothing,
                          task_prior=None, gold=None):
    """Plain-loop EM: soft-MV init, then n_iter × (M-step, E-step). Returns (post, pi, q)."""
    post = np.zeros((n_tasks, k))
    for t, ans in zip(task, label, strict=True):
        post[t, ans] += 1
    post /= post.sum(axis=1, keepdims=True)
    gold = gold or {}
    for t, c in gold.items():
        post[t] = np.eye(k)[c]
    for _ in range(n_iter):
        q = post.sum(axis=0) / n_tasks
        counts = np.full((n_workers, k, k), smoothing)
        for t, w, ans in zip(task, worker, label, strict=True):
            for c in range(k):
                counts[w, c, ans] += post[t, c]
        pi = counts / counts.sum(axis=2, keepdims=True)
        log_post = np.tile(np.log(q), (n_tasks, 1))
        if task_prior is not None:
            log_post += np.log(task_prior)
        for t, w, ans in zip(task, worker, label, strict=True):
            for c in range(k):
                log_post[t, c] += np.log(pi[w, c, ans])
        post = np.exp(log_post - log_post.max(axis=1, keepdims=True))
        post /= post.sum(axis=1, keepdims=True)
        for t, c in gold.items():
            post[t] = np.eye(k)[c]
    return post, pi, q
