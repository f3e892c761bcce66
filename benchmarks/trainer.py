"""Does data feeding dominate? One epoch of crowdlearn's Trainer against a bare PyTorch loop
on the same model, data, optimiser and batch size.

    python -m benchmarks.trainer                  # MLP on digits, LeNet on Fashion-MNIST
    python -m benchmarks.trainer --epochs 5 --device cuda --resnet18   # on a GPU machine

Both loops shuffle with a permutation and slice tensors held on the device; ours adds its
set-up, loss bookkeeping, scheduler stepping and the hooks. After one untimed warm-up epoch of
each, ``--epochs`` epochs of each are timed (ours as one whole ``fit`` call) and the time per
epoch is reported.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F

from crowdlearn.nn import Trainer, make_model, resolve_device


def bare_epoch(model, optimizer, X, y, batch_size, generator) -> None:
    """The loop a PyTorch user would write by hand."""
    model.train()
    perm = torch.randperm(len(X), generator=generator).to(X.device)
    for a in range(0, len(X), batch_size):
        idx = perm[a:a + batch_size]
        xb = X[idx]
        xb = xb.float() / 255.0 if xb.dtype == torch.uint8 else xb
        loss = F.cross_entropy(model(xb), y[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


def compare(name: str, X: np.ndarray, y: np.ndarray, model_name: str, epochs: int,
            batch_size: int, device: str) -> dict:
    dev = resolve_device(device)
    shape, k = X.shape[1:], int(y.max()) + 1
    ours_model = make_model(model_name, shape, k, seed=0).to(dev)
    bare_model = make_model(model_name, shape, k, seed=0).to(dev)
    X_t, y_t = torch.from_numpy(X).to(dev), torch.from_numpy(y.astype(np.int64)).to(dev)
    bare_opt = torch.optim.Adam(bare_model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(0)
    trainer = Trainer(epochs=epochs, batch_size=batch_size, lr=1e-3, device=device,
                      progress=False)
    # warm-up: one epoch of each (allocator, kernels), not timed
    Trainer(epochs=1, batch_size=batch_size, device=device, progress=False).fit(
        make_model(model_name, shape, k, seed=1).to(dev), X_t, y_t)
    warm = make_model(model_name, shape, k, seed=1).to(dev)
    bare_epoch(warm, torch.optim.Adam(warm.parameters(), lr=1e-3), X_t, y_t, batch_size,
               torch.Generator().manual_seed(1))
    _sync(dev)
    start = time.perf_counter()
    trainer.fit(ours_model, X_t, y_t)  # the whole fit: set-up, epochs, bookkeeping
    _sync(dev)
    o = (time.perf_counter() - start) / epochs
    start = time.perf_counter()
    for _ in range(epochs):
        bare_epoch(bare_model, bare_opt, X_t, y_t, batch_size, gen)
    _sync(dev)
    b = (time.perf_counter() - start) / epochs
    return {"case": name, "device": str(dev), "examples": len(X), "ours_s": o, "bare_s": b,
            "ratio": o / b, "ours_img_per_s": len(X) / o}


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--resnet18", action="store_true",
                        help="also ResNet-18 on Fashion-MNIST padded to 32×32 (GPU-sized)")
    args = parser.parse_args(argv)
    from crowdlearn.datasets import load_digits, load_fashion_mnist

    digits = load_digits()
    rows = [compare("MLP, digits", digits.X, digits.y, "mlp", args.epochs, 64, args.device)]
    fashion = load_fashion_mnist(split="train")
    rows.append(compare("LeNet, Fashion-MNIST", fashion.X, fashion.y, "lenet", args.epochs, 128,
                        args.device))
    if args.resnet18:
        padded = np.pad(fashion.X, ((0, 0), (0, 0), (2, 2), (2, 2)))
        rows.append(compare("ResNet-18, Fashion-MNIST 32px", padded, fashion.y, "resnet18",
                            args.epochs, 128, args.device))
    for r in rows:
        print(f"{r['case']:32s} {r['device']:5s} n={r['examples']:6d}  ours {r['ours_s']:.3f} s"
              f"  bare {r['bare_s']:.3f} s  ratio {r['ratio']:.3f}"
              f"  ({r['ours_img_per_s']:,.0f} images/s)")


if __name__ == "__main__":
    main()
