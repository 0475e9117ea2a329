"""Defaults of the analyses, each in one place: the commands show them in --help, the library and the
explorer use them. Nothing here loads torch, so the CLI reads them at start."""

SAMPLE_FORMATS = ("grid", "png", "npz")
RADIUS = 0.3  # `sample --around`'s step: near enough to read as the same picture, far enough to vary
BANK_SAMPLES = 16_384  # generated samples the arithmetic's labelled bank holds
ATTRIBUTE_IMAGES = 30_000  # real labelled images a data set's attribute classifier learns from at most
