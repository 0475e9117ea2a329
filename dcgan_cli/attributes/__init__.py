"""What a data set's labels say of an image: its classifier, the labelled sample bank, the phrases and
expressions in its words, what an expression expects and whether an image delivers it, the guide on z
that arithmetic's edits and the concept sliders follow, and reading generated images."""
