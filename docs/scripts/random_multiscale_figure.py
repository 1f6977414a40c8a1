"""Make docs/images/random-multiscale.png: content | style | result, random-multiscale backbone.

    python docs/scripts/random_multiscale_figure.py [--size 384] [--steps 300]
"""

import argparse
from pathlib import Path

import numpy as np

from nst_engine.files import write_image
from nst_engine.images import resize_to, split_image
from nst_engine.pipeline import stylize
from nst_engine.samples import sample_pair

parser = argparse.ArgumentParser()
parser.add_argument("--size", type=int, default=384)
parser.add_argument("--steps", type=int, default=300)
parser.add_argument("--output", default=str(Path(__file__).parents[1] / "images" / "random-multiscale.png"))
args = parser.parse_args()

content, style = sample_pair()
result = stylize(content, style, backbone="random-multiscale", size=args.size, steps=args.steps)
height = result.image.shape[0]


def panel(image: np.ndarray) -> np.ndarray:
    rgb = split_image(image)[0]
    return resize_to(rgb, (height, round(rgb.shape[1] * height / rgb.shape[0])))


gap = np.ones((height, 8, 3), np.float32)
figure = np.concatenate([panel(content), gap, panel(style), gap, result.image], axis=1)
write_image(args.output, figure, provenance=result.provenance)
print(f"wrote {args.output} in {result.provenance['timings']['total_s']:.0f} s")
