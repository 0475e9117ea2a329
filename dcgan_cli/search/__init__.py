"""`dcgan nn-search`: the training images nearest to samples, by an exact search."""
