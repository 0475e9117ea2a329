"""What a data set's labels say of an image: its classifier, the labelled sample bank, what an expression
expects and whether an image delivers it, and reading generated images."""
