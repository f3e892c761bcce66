"""An obviously-correct, loop-based Dawid–Skene used to check the vectorised kernel."""

from __future__ import annotations

import numpy as np


def reference_dawid_skene(task, worker, label, n_tasks, n_workers, k, *, n_iter, smoothing,
                          prior="pooled", class_smoothing=0.1, cap=3.0, task_prior=None,
                          gold=None):
    """Plain-loop EM: soft-MV init, then n_iter × (M-step, E-step). Returns (post, pi, q).

    The priors are fixed from the initial posteriors: every confusion row k gets pseudo-counts
    ``K·smoothing·m[k]`` (``m``: the workers' average confusion, each worker's row weighing at
    most ``cap`` answers, or uniform with ``prior="uniform"``) and class k gets
    ``class_smoothing`` times its initial posterior total."""
    post = np.zeros((n_tasks, k))
    for t, ans in zip(task, label, strict=True):
        post[t, ans] += 1
    post /= post.sum(axis=1, keepdims=True)
    gold = gold or {}
    for t, c in gold.items():
        post[t] = np.eye(k)[c]
    # the priors, from the initial posteriors
    init_counts = np.zeros((n_workers, k, k))  # [worker, true c, answered l]
    for t, w, ans in zip(task, worker, label, strict=True):
        for c in range(k):
            init_counts[w, c, ans] += post[t, c]
    pseudo = np.full((k, k), float(smoothing))
    if prior == "pooled" and smoothing > 0:
        centre = np.full((k, k), 1e-3)
        for w in range(n_workers):
            for c in range(k):
                n = init_counts[w, c].sum()
                if n > 0:
                    centre[c] += init_counts[w, c] * min(n, cap) / n
        for c in range(k):
            pseudo[c] = smoothing * k * centre[c] / centre[c].sum()
    class_pseudo = class_smoothing * post.sum(axis=0)
    for _ in range(n_iter):
        q = (post.sum(axis=0) + class_pseudo) / (n_tasks + class_pseudo.sum())
        counts = np.zeros((n_workers, k, k))
        for w in range(n_workers):
            counts[w] += pseudo
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
