"""A person's picture into z and back: `dcgan project`, the optimiser, the encoder, z files."""
