"""dcgan-cli: train Deep Convolutional GANs and explore what they learned."""

__version__ = "0.1.0"

from .model import PRESETS, Discriminator, Generator, ModelConfig, sample_z, z_from_seeds

__all__ = ["__version__", "PRESETS", "ModelConfig", "Generator", "Discriminator", "sample_z", "z_from_seeds"]
