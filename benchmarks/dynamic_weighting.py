"""Does one setting keep content and style in balance across style images? (issue: seed 002)

For each style image, one run with fixed weights and one with dynamic weighting, then each
term's final value as a fraction of its reference magnitude (see nst_engine.objective):
- content fraction: 0 = the content's features kept, 1 = as far from them as the style image;
- style fraction: 1 = the content's untouched style statistics, 0 = the style's matched.
Balanced means the two fractions stay alike across styles. Prints a Markdown table and the
spread (max / min over styles) of each fraction per setting.

    python benchmarks/dynamic_weighting.py [--size 128] [--steps 60] [--backbone random-multiscale]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from nst_engine.pipeline import stylize
from nst_engine.samples import sample_image
from skimage import data

STYLES = {
    "immunohistochemistry": lambda: sample_image("immunohistochemistry"),
    "hubble_deep_field": lambda: sample_image("hubble_deep_field"),
    "coffee": lambda: sample_image("coffee"),
    "rocket": lambda: sample_image("rocket"),
    "astronaut": lambda: sample_image("astronaut"),
    "brick": data.brick,
    "gravel": data.gravel,
}

SETTINGS = {
    "fixed (content 1, gram 1e4)": {"losses": {"content": 1.0, "gram": 1e4}, "dynamic_weights": False},
    "dynamic (content 1, gram 1)": {"losses": {"content": 1.0, "gram": 1.0}, "dynamic_weights": True},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--backbone", default="random-multiscale")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    content = sample_image("chelsea")
    fractions: dict[str, list[tuple[float, float]]] = {name: [] for name in SETTINGS}
    print(f"backbone {args.backbone}, size {args.size}, {args.steps} L-BFGS steps, content chelsea")
    print("| style | " + " | ".join(f"{s}: content / style fraction" for s in SETTINGS) + " |")
    print("|---|" + "---|" * len(SETTINGS))
    for style_name, load in STYLES.items():
        cells = []
        for setting, options in SETTINGS.items():
            result = stylize(content, load(), backbone=args.backbone, size=args.size, steps=args.steps,
                             scales=1, **options)
            balance = result.provenance["balance"]
            fractions[setting].append((balance["content"], balance["gram"]))
            cells.append(f"{balance['content']:.3f} / {balance['gram']:.3f}")
        print(f"| {style_name} | " + " | ".join(cells) + " |", flush=True)
    for setting, values in fractions.items():
        c, s = np.array(values).T
        print(f"{setting}: content fraction {c.min():.3f}..{c.max():.3f} (spread {c.max() / max(c.min(), 1e-9):.1f}x), "
              f"style fraction {s.min():.3f}..{s.max():.3f} (spread {s.max() / max(s.min(), 1e-9):.1f}x)")


if __name__ == "__main__":
    main()
