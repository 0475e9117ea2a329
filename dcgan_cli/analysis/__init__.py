"""What a trained generator can be asked: samples, latent paths, concept arithmetic, nearest training images."""
