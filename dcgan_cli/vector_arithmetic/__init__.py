"""`dcgan arithmetic`: latent vector arithmetic over named concepts, with verdicts."""
