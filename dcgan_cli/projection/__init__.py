"""A person's picture into z and back: `dcgan project`, the optimiser, the encoder, z files.

What the other capabilities use, their one way in: `latent_ends` (a seed, an image or a z file as a z for G),
which interpolate, nn-search and arithmetic's anchors call.
"""

from .project import LatentEnd, latent_ends

__all__ = ["LatentEnd", "latent_ends"]
