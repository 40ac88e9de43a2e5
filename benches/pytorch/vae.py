"""PyTorch eager baseline for `cargo xtask bench-compare vae`.

Trains the same VAE as aecraft's `vae` example on MNIST and prints one JSON line,
{"train_images_per_second": ..., "epochs": E, "images": n, "seconds": s}, as the last
line of stdout. Only the training loop is timed; reading the data is not.

Model: encoder Linear(784, H) ReLU ... Linear(H, 2Z), mean = first Z columns, logvar =
last Z, z = mean + exp(logvar / 2) * noise; decoder Linear(Z, H) ReLU ... Linear(H, 784)
giving logits (with several hidden widths the decoder uses them in reverse order).
Loss: batch mean of the per-image sum of binary cross-entropy with logits plus the KL
divergence -0.5 * sum(1 + logvar - mean^2 - exp(logvar)). Adam, lr 1e-3. Each epoch
shuffles with torch.randperm (seeded generator) and keeps the last partial batch.
"""

import argparse
import json
import struct
import time
import warnings
from pathlib import Path

# torch warns at import when NumPy is absent; this script does not use NumPy.
warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

PIXELS = 28 * 28


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", type=Path, default=Path("data/mnist"))
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--hidden", type=widths, default="400", help="a width, or widths like 512,256")
    p.add_argument("--code", type=int, default=20)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--limit", type=int, help="train on the first N images only")
    return p.parse_args()


def widths(text):
    """`400` or `512,256` as a list of positive ints."""
    hidden = [int(w) for w in text.split(",")]
    if min(hidden) < 1:
        raise ValueError(text)
    return hidden


def read_images(path, limit):
    """uint8 IDX images as float32 in [0, 1], one row of 784 pixels per image."""
    data = bytearray(path.read_bytes())
    magic, count, rows, cols = struct.unpack(">IIII", data[:16])
    if magic != 0x803 or rows * cols != PIXELS:
        raise SystemExit(f"{path} is not an MNIST image file (magic {magic:#x})")
    if limit is not None:
        count = min(count, limit)
    images = torch.frombuffer(data, dtype=torch.uint8, count=count * PIXELS, offset=16)
    return images.view(count, PIXELS).float() / 255


def mlp(widths):
    """Linear layers between consecutive widths, with a ReLU between each two."""
    layers = []
    for i, (n_in, n_out) in enumerate(zip(widths, widths[1:])):
        if i > 0:
            layers.append(nn.ReLU())
        layers.append(nn.Linear(n_in, n_out))
    return nn.Sequential(*layers)


class Vae(nn.Module):
    def __init__(self, hidden, code):
        super().__init__()
        self.code = code
        self.encoder = mlp([PIXELS, *hidden, 2 * code])
        self.decoder = mlp([code, *reversed(hidden), PIXELS])

    def loss(self, x):
        stats = self.encoder(x)
        mean, logvar = stats[:, : self.code], stats[:, self.code :]
        z = mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)
        logits = self.decoder(z)
        bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(1)
        kl = -0.5 * (1 + logvar - mean.pow(2) - logvar.exp()).sum(1)
        return (bce + kl).mean()


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    images = read_images(args.data_dir / "train-images-idx3-ubyte", args.limit)
    n = images.shape[0]
    model = Vae(args.hidden, args.code)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    shuffle = torch.Generator().manual_seed(0)

    start = time.perf_counter()
    for _ in range(args.epochs):
        order = torch.randperm(n, generator=shuffle)
        for i in range(0, n, args.batch):
            loss = model.loss(images[order[i : i + args.batch]])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    seconds = time.perf_counter() - start

    result = {
        "train_images_per_second": args.epochs * n / seconds,
        "epochs": args.epochs,
        "images": n,
        "seconds": seconds,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
