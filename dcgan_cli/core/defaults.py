"""Defaults of the analyses, each in one place: the commands show them in --help, the library and the
explorer use them. Nothing here loads torch, so the CLI reads them at start."""

SAMPLE_FORMATS = ("grid", "png", "npz")
SAMPLE_SEEDS = 64  # `dcgan sample`'s seeds without --n or --seeds: 0-63, an 8 x 8 grid
RADIUS = 0.3  # `sample --around`'s step: near enough to read as the same picture, far enough to vary
BANK_SAMPLES = 16_384  # generated samples the arithmetic's labelled bank holds
ATTRIBUTE_IMAGES = 30_000  # real labelled images a data set's attribute classifier learns from at most
# `sample --label` and interpolate's word ends: seeds read at the first ask, and the most ever read for one phrase
FIRST_SEARCH, MOST_SEARCHED = 4096, 65_536
STANDARD_N = 10_000  # `dcgan evaluate`'s images a side on a GPU: the published protocol's count (50,000 in some papers)
CPU_N = 2048  # ... and elsewhere: a first look in about a minute on a laptop CPU
NN_MEMORY_MB = 256  # nn-search's float32 chunk of training images, without --chunk-size
MIN_CELL = 128  # on-screen size of a grid tile: a 32 px model's image is enlarged 4x (nearest: pixels stay pixels)
MIN_CAPTIONED = 64  # a caption under a tile needs about this much width to be read

# Each analysis's own defaults: its command's signature (so --help) and its library function both read them here.
WALK_STEPS = 9  # interpolate --steps: frames from one end to the other
NEIGHBOURS, HOLDOUT, NN_SEEDS = 5, 256, 8  # nn-search --k, --holdout, and the samples searched without --n/--seeds
PROJECT_STEPS, PROJECT_STARTS, ENCODER_STEPS = 200, 4, 1000  # project --steps, --starts, --encoder-steps
VARIANTS = 8  # arithmetic --variants
FEATURE_BATCH = 64  # evaluate --batch-size: images per feature batch
EXPLAIN_N, EXPLAIN_FEATURES, EXPLAIN_PER = 512, 6, 8  # explain --n, --features, --per
ABLATE_BANK, ABLATE_SEEDS = 2048, 16  # ablate --bank, and the grid's seeds without --n/--seeds
LABELS_PER_CLASS, PROBE_TEST_N = 1000, 10_000  # probe --labels-per-class, --test-n
EXPLORE_HOST, EXPLORE_PORT = "127.0.0.1", 8765  # explore --host, --port: this machine only
