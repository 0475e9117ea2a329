"""Does latent arithmetic work? Score `dcgan arithmetic` on shapes generators with an independent judge.

    python benchmarks/arithmetic_check.py --runs /tmp/bench/qshapes80 --recipe paper --seeds 1,2,3

Analogies are fixed before measuring, in the paper's form "A - B + C" where the target differs
from each of A, B and C, so copying any input scores zero on some attribute:
    A = "red large circle", B = "blue circle", C = "blue square"  ->  target: red large square
(B and C share a value of another attribute that A does not have.) Per move of shape, colour and
size, up to --per-move analogies, each drawn with 1 + --variants results.

The judge is a second classifier (3x3 convolutions, max pooling, one softmax per attribute; its
own seed and its own real images), never used to build concept vectors; its accuracy on unseen
real images is printed. Baselines in the same table: copy A (the anchors), copy C (samples of C),
A plus a random direction of the anchored step's norm, unconditional samples; and the ceiling, the
share of unconditional samples the judge reads confidently. Counts come with Wilson 95% intervals.
"""

from __future__ import annotations

import argparse
import itertools
import math
import statistics
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from dcgan_cli.attributes.bank import sample_bank
from dcgan_cli.attributes.classifier import degrade
from dcgan_cli.attributes.expectations import attributes_of, match_score
from dcgan_cli.core.checkpoint import load_checkpoint
from dcgan_cli.core.configs import ARITHMETIC_METHODS
from dcgan_cli.core.errors import DcganError
from dcgan_cli.core.generation import generate
from dcgan_cli.core.pixels import to_model_range
from dcgan_cli.data import checkpoint_data
from dcgan_cli.data.shapes import GROUPS, LABEL_NAMES, make_shapes
from dcgan_cli.vector_arithmetic.arithmetic import arithmetic
from dcgan_cli.vector_arithmetic.separability import separability

MOVES = {"shape": 0, "colour": 1, "size": 2}


class Judge(nn.Module):
    """Another architecture than the attribute model: 3x3 convs, max pooling, ReLU, max-pooled features."""

    def __init__(self, width: int = 24):
        super().__init__()
        layers, c = [], 3
        for w in (width, width * 2, width * 4):
            layers += [nn.Conv2d(c, w, 3, padding=1), nn.ReLU(), nn.Conv2d(w, w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
            c = w
        self.body = nn.Sequential(*layers, nn.AdaptiveMaxPool2d(1), nn.Flatten())
        self.head = nn.Linear(c, len(LABEL_NAMES))

    def forward(self, x):
        return self.head(self.body(x))

    @torch.no_grad()
    def read(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 3) value index per group and (B, 3) its probability."""
        self.eval()
        logits = torch.cat([self(x[i : i + 512]) for i in range(0, len(x), 512)])
        vals, probs, start = [], [], 0
        for g in GROUPS:
            p = torch.softmax(logits[:, start : start + len(g)], 1)
            best = p.max(1)
            vals.append(best.indices)
            probs.append(best.values)
            start += len(g)
        return torch.stack(vals, 1), torch.stack(probs, 1)


def train_judge(size: int, path: Path, seed: int = 1234) -> tuple[Judge, float, float]:
    """Train on 12,000 real shapes of a draw the generators never saw; accuracy on 2,000 more (clean, degraded)."""
    torch.manual_seed(seed)
    judge = Judge()
    test_x, test_y = make_shapes(2000, size, seed=seed + 2)
    test_x = to_model_range(torch.from_numpy(test_x))
    truth = torch.stack([torch.from_numpy(test_y[:, [LABEL_NAMES.index(v) for v in g]]).argmax(1) for g in GROUPS], 1)
    if path.exists():
        judge.load_state_dict(load_file(path))
    else:
        x, y = make_shapes(12000, size, seed=seed + 1)
        x, y = to_model_range(torch.from_numpy(x)), torch.from_numpy(y)
        targets = torch.stack([y[:, [LABEL_NAMES.index(v) for v in g]].argmax(1) for g in GROUPS], 1)
        opt = torch.optim.Adam(judge.parameters(), lr=1e-3)
        g = torch.Generator().manual_seed(seed)
        for _ in range(5):
            judge.train()
            for idx in torch.randperm(len(x), generator=g).split(128):
                xb = x[idx]
                xb = torch.cat([xb[: len(idx) // 2], degrade(xb[len(idx) // 2 :], g)])
                logits, start, loss = judge(xb), 0, 0.0
                for k, grp in enumerate(GROUPS):
                    loss = loss + F.cross_entropy(logits[:, start : start + len(grp)], targets[idx, k])
                    start += len(grp)
                opt.zero_grad()
                loss.backward()
                opt.step()
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file(judge.state_dict(), str(path))
    clean = float((judge.read(test_x)[0] == truth).float().mean())
    noisy = float((judge.read(degrade(test_x, torch.Generator().manual_seed(5)))[0] == truth).float().mean())
    return judge, clean, noisy


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return float("nan"), float("nan")
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def analogies(per_move: int, seed: int = 0) -> list[dict]:
    """Fixed before measuring: (expression, moved group, A's values, target values)."""
    rng = np.random.default_rng(seed)
    out = []
    for move, m in MOVES.items():
        rows = []
        for a in itertools.product(*[range(len(g)) for g in GROUPS]):
            for tgt in range(len(GROUPS[m])):
                if tgt == a[m]:
                    continue
                for k in (x for x in range(3) if x != m):
                    other = int(rng.choice([v for v in range(len(GROUPS[k])) if v != a[k]]))
                    # words in a natural order: size, colour, shape
                    def words(vals: dict[int, int]) -> str:
                        return " ".join(GROUPS[g][vals[g]] for g in (2, 1, 0) if g in vals)
                    target = list(a)
                    target[m] = tgt
                    expr = f"{words(dict(enumerate(a)))} - {words({m: a[m], k: other})} + {words({m: tgt, k: other})}"
                    rows.append({"expression": expr, "move": move, "a": a, "target": tuple(target), "c": {m: tgt, k: other}})
        order = rng.permutation(len(rows))[:per_move]
        out += [rows[i] for i in sorted(order)]
    return out


class Candidates:
    """Other directions from the issue's list, applied to the same anchors as 'anchored' (the bank's
    confident samples; builder's labels): the global mean difference of the moved attribute
    (exemplar-anchored, no context), the same balanced over every combination of the other
    attributes (White 2016), and a logistic-regression normal with the step that puts each anchor
    2 logits past the boundary (InterFaceGAN-style)."""

    NAMES = ("global means", "balanced means", "logistic normal")

    def __init__(self, bank, attrs):
        self.z = bank.z
        reads = [a.read(bank.probs) for a in attrs]
        self.vals = torch.stack([v for v, _ in reads], 1)
        self.ok = torch.stack([p for _, p in reads], 1) >= 0.8
        self.cache: dict = {}

    def _mean(self, spec: dict[int, int]) -> torch.Tensor | None:
        m = torch.ones(len(self.z), dtype=torch.bool)
        for g, v in spec.items():
            m &= (self.vals[:, g] == v) & self.ok[:, g]
        return self.z[m].mean(0) if m.sum() >= 8 else None

    def step(self, name: str, m: int, source: int, target: int, za: torch.Tensor) -> torch.Tensor:
        key = (name, m, source, target)
        if key not in self.cache:
            if name == "global means":
                self.cache[key] = self._mean({m: target}) - self._mean({m: source})
            elif name == "balanced means":
                others = [g for g in range(3) if g != m]
                diffs = []
                for combo in itertools.product(*[range(len(GROUPS[g])) for g in others]):
                    ctx = dict(zip(others, combo))
                    b, c = self._mean(ctx | {m: source}), self._mean(ctx | {m: target})
                    if b is not None and c is not None:
                        diffs.append(c - b)
                self.cache[key] = torch.stack(diffs).mean(0)
            else:
                from sklearn.linear_model import LogisticRegression

                sel = self.ok[:, m] & ((self.vals[:, m] == source) | (self.vals[:, m] == target))
                lr = LogisticRegression(C=0.1, max_iter=1000).fit(self.z[sel].numpy(), (self.vals[sel, m] == target).numpy())
                self.cache[key] = (torch.tensor(lr.coef_[0], dtype=torch.float32), float(lr.intercept_[0]))
        if name != "logistic normal":
            return za + self.cache[key]
        w, b = self.cache[key]
        n = w / w.norm()
        s = ((2.0 - (za @ w + b)) / (n @ w)).clamp_min(0)
        return za + s[:, None] * n


def score(read: tuple[torch.Tensor, torch.Tensor], target: tuple, m: int) -> dict[str, torch.Tensor]:
    """Per result: moved, kept, all right; and, among the results the judge reads with p > 0.9 in
    every attribute ("confident"), all right ("confident all")."""
    seen, p = read
    t = torch.tensor(target)
    ok = seen == t
    kept = [g for g in range(3) if g != m]
    sure = (p > 0.9).all(1)
    return {"moved": ok[:, m], "kept": ok[:, kept].all(1), "all": ok.all(1), "confident": sure, "confident all": ok.all(1)[sure]}


def domain_fid(classifier, real_u8: torch.Tensor, images: torch.Tensor) -> float:
    """FID in the data set's classifier features (what `dcgan evaluate --features domain` uses) at N = len(images)."""
    from dcgan_cli.core.pixels import to_uint8
    from dcgan_cli.evaluation.metrics import Stats, fid

    real = classifier.features(real_u8[: len(images)]).numpy()
    fake = classifier.features(to_uint8(images)).numpy()
    return fid(Stats.of(real), Stats.of(fake))


def mnist_rows(ckpts: list[Path], methods: list[str], variants: int, samples: int, data_root: Path) -> None:
    """Digit moves ("three - three + eight") on MNIST generators, judged by the domain classifier."""
    from dcgan_cli.data.source import DIGITS

    pairs = [(3, 8), (1, 7), (0, 6), (4, 9), (5, 3), (7, 1), (8, 0), (2, 5), (6, 4), (9, 2)]
    print(f"\nMNIST: {len(pairs)} digit moves 'a - a + b', {1 + variants} results each; judge: the domain classifier")
    print("| generator | method | digit moved | edit size (share of prior) |")
    print("|---|---|---|---|")
    for path in ckpts:
        c = load_checkpoint(path)
        data = checkpoint_data(c, "train", data_root=data_root)
        for method in methods:
            hits = total = 0
            sizes = []
            for a, b in pairs:
                expr = f"{DIGITS[a]} - {DIGITS[a]} + {DIGITS[b]}"
                try:
                    r = arithmetic(c, expr, method=method, data=data, samples=samples, variants=variants)
                except DcganError:
                    total += 1 + variants
                    continue
                read = r.bank.classifier.predict(r.result_images)[:, :10].argmax(1)
                hits += int((read == b).sum())
                total += 1 + variants
                if r.plan.anchor_z is not None:
                    sizes += (r.plan.edit_sizes() / math.sqrt(c.model_config.nz)).tolist()
            size = f"{statistics.mean(sizes):.0%}" if sizes else "-"
            print(f"| {path.name} | {method} | {hits / max(total, 1):.1%} of {total} | {size} |", flush=True)


def celeba_rows(methods: list[str], variants: int, samples: int, work: Path) -> None:
    """The CelebA-shaped row: the tests' drawn CelebA files (40 independent labels, Male, Smiling and
    Eyeglasses drawn) read by the real loader, a generator fitted to draw them, every method; the
    results judged by a pixel rule (tests/drawn_celeba.py), never by a model. An attribute the
    expression leaves to the anchor must be the anchor's; for paper and mean (no anchor) only the
    attributes the expression names are judged."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from dcgan_cli.core.checkpoint import save_checkpoint
    from dcgan_cli.core.configs import ModelConfig, TrainConfig
    from dcgan_cli.data import load_data
    from tests.drawn_celeba import DRAWN, fit_generator, read_face, write_drawn_celeba

    run = work / "celeba-drawn" / "run"
    if not (run / "checkpoints").is_dir():
        root = write_drawn_celeba(work / "celeba-drawn" / "data", n=960)
        data = load_data("celeba", 32, root=root)
        cfg = ModelConfig(size=32, nc=3, nz=100, ngf=16, ndf=8)
        G, D = fit_generator(np.asarray(data.images), np.asarray(data.labels), data.label_names, cfg, steps=800)
        (run / "checkpoints").mkdir(parents=True)
        (run / "run.json").write_text("{}")
        tensors = {f"G/{k}": v for k, v in G.state_dict().items()} | {f"D/{k}": v for k, v in D.state_dict().items()}
        meta = {"model": cfg.to_dict(), "train": TrainConfig(dataset="celeba").to_dict(),
            "dataset": data.record().to_dict(), "step": 800}
        save_checkpoint(run / "checkpoints" / "step-00000800.safetensors", tensors, meta)
    # (expression, wanted Male, Smiling, Eyeglasses; None = the anchor's own)
    tasks = [("smiling woman - woman + man", (1, 1, None)), ("glasses man - man + woman", (0, None, 1)),
             ("smiling man - smiling + neutral", (1, 0, None)), ("woman - woman + glasses woman", (0, None, 1)),
             ("neutral glasses woman - woman + man", (1, 0, 1))]
    print(f"\nCelebA-shaped: {len(tasks)} expressions, {1 + variants} results each, on drawn CelebA files "
          f"({', '.join(DRAWN)} drawn; judged by a pixel rule)")
    print("| method | all drawn attributes right | edit size (share of prior) | e.g. the verdict lines of the first expression |")
    print("|---|---|---|---|")
    for method in methods:
        hits = total = 0
        sizes, shown_lines = [], ""
        for expr, want in tasks:
            try:
                r = arithmetic(run, expr, method=method, samples=samples, variants=variants)
            except DcganError as e:
                print(f"| {method} | {expr}: {e} | | |")
                total += 1 + variants
                continue
            seen = read_face(r.result_images)
            anchor = read_face(generate(load_checkpoint(run).generator("cpu"), r.plan.anchor_z)) if r.plan.anchor_z is not None \
                else seen
            for i in range(len(seen)):
                target = [w if w is not None else int(anchor[min(i, len(anchor) - 1), j]) for j, w in enumerate(want)]
                hits += int(seen[i].tolist() == target)
            total += 1 + variants
            if r.plan.anchor_z is not None:
                sizes += (r.plan.edit_sizes() / 10).tolist()
            if not shown_lines:
                shown_lines = "; ".join(ln for ln in r.lines() if ln.startswith(("Male:", "Smiling:", "Eyeglasses:")))
        size = f"{statistics.mean(sizes):.0%}" if sizes else "-"
        print(f"| {method} | {hits / max(total, 1):.0%} of {total} | {size} | {shown_lines} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=Path, default=Path("/tmp/bench/qshapes80"), help="folder of benchmarks/quality.py runs")
    ap.add_argument("--recipe", default="paper")
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--ckpt", type=Path, action="append", help="score these checkpoints instead of --runs/--recipe/--seeds")
    ap.add_argument("--methods", default=",".join(ARITHMETIC_METHODS))
    ap.add_argument("--per-move", type=int, default=40)
    ap.add_argument("--variants", type=int, default=4)
    ap.add_argument("--samples", type=int, default=16384)
    ap.add_argument("--candidates", action="store_true", help="also score the other directions tried (Candidates)")
    ap.add_argument("--mnist", type=Path, action="append", help="MNIST checkpoints for the digit-move rows")
    ap.add_argument("--celeba", action="store_true", help="the CelebA-shaped row on drawn CelebA files (tests/drawn_celeba.py)")
    ap.add_argument("--celeba-work", type=Path, default=Path("/tmp/bench"), help="where the drawn files and their run go")
    ap.add_argument("--data-root", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist10k")
    args = ap.parse_args()
    if args.mnist:
        mnist_rows(args.mnist, args.methods.split(","), args.variants, args.samples, args.data_root)
    if args.celeba:
        celeba_rows(args.methods.split(","), args.variants, min(args.samples, 4096), args.celeba_work)
    if (args.mnist or args.celeba) and not args.ckpt and not args.runs.exists():
        return
    ckpts = args.ckpt or [args.runs / f"shapes32-{args.recipe.replace(' ', '_')}-seed{s}" for s in args.seeds.split(",")]
    methods = args.methods.split(",")
    tasks = analogies(args.per_move)
    print(f"{len(tasks)} analogies ({args.per_move} per move), {1 + args.variants} results each; e.g. {tasks[0]['expression']!r}")
    rows = (
        ["copy A", "copy C", "A + random direction", "unconditional"]
        + methods
        + (list(Candidates.NAMES) if args.candidates else [])
    )
    pooled: dict[tuple[str, str, str], list[int]] = {}  # (row, move, metric) -> [hits, n]
    edits: dict[str, list[float]] = {}  # method -> |result - anchor| / sqrt(nz) per result
    steps_taken: dict[str, list[int]] = {}
    fids: dict[str, list[float]] = {}  # method -> results' domain FID per generator
    per_gen: dict[tuple[str, str], list[float]] = {}  # (row, move) -> all-correct share per generator
    for path in ckpts:
        c = load_checkpoint(path)
        size = c.model_config.size
        judge, clean, noisy = train_judge(size, args.runs / f"judge-{size}.safetensors")
        data = checkpoint_data(c, "train")
        bank = sample_bank(c, data, n=args.samples)
        attrs = attributes_of(bank.classifier.label_names, data.groups)
        G = c.generator("cpu")
        candidates = Candidates(bank, attrs)
        print(f"\n{c.path} (step {c.step}); judge on 2,000 unseen real images: {clean:.1%} clean, {noisy:.1%} degraded; "
              f"attribute model {bank.classifier.accuracy:.1%}")
        for row in separability(bank, attrs):
            print(f"  separability of z, {row['attribute']}: {row['accuracy']} (majority {row['majority']})")
        g = torch.Generator().manual_seed(7)
        uncond = generate(G, torch.randn(2048, c.model_config.nz, generator=g))
        _, p = judge.read(uncond)
        ceiling = float((p > 0.9).all(1).float().mean())
        print(f"  ceiling: the judge reads {ceiling:.1%} of unconditional samples with p > 0.9 in every attribute")
        counts: dict[tuple[str, str, str], list[int]] = {}
        made: dict[str, list[torch.Tensor]] = {}  # method -> result images, for the results' FID

        def add(row: str, move: str, s: dict[str, torch.Tensor]) -> None:
            for metric, v in s.items():
                for key in ((row, move, metric), (row, "all moves", metric)):
                    cell = counts.setdefault(key, [0, 0])
                    cell[0] += int(v.sum())
                    cell[1] += len(v)

        for task in tasks:
            m = MOVES[task["move"]]
            for method in methods:
                try:
                    r = arithmetic(c, task["expression"], method=method, data=data, samples=args.samples, variants=args.variants)
                    seen, p = judge.read(r.result_images)
                    if len(seen) < 1 + args.variants:  # fewer anchors than asked for: the missing results count as misses
                        seen = torch.cat([seen, torch.full((1 + args.variants - len(seen), 3), -1)])
                        p = torch.cat([p, torch.zeros(1 + args.variants - len(p), 3)])
                except DcganError:  # a concept the model draws too rarely: every result a miss
                    seen, p = torch.full((1 + args.variants, 3), -1), torch.zeros(1 + args.variants, 3)
                    r = None
                add(method, task["move"], score((seen, p), task["target"], m))
                if r is not None:
                    made.setdefault(method, []).append(r.result_images)
                    if r.plan.anchor_z is not None:
                        size = r.plan.edit_sizes() / math.sqrt(c.model_config.nz)
                        edits.setdefault(method, []).extend(size.tolist())
                        if r.plan.edit_steps is not None:
                            steps_taken.setdefault(method, []).extend(r.plan.edit_steps)
                if method == "anchored" and r is not None:
                    za = r.plan.anchor_z
                    step = (r.plan.result_z - za).norm(dim=1, keepdim=True)
                    d = torch.randn(za.shape, generator=g)
                    add("copy A", task["move"], score(judge.read(generate(G, za)), task["target"], m))
                    add("A + random direction", task["move"],
                        score(judge.read(generate(G, za + d / d.norm(dim=1, keepdim=True) * step)), task["target"], m))
                    for name in Candidates.NAMES if args.candidates else ():
                        moved = candidates.step(name, m, task["a"][m], task["target"][m], za)
                        add(name, task["move"], score(judge.read(generate(G, moved)), task["target"], m))
            sc = match_score(bank.probs, {m_: v for m_, v in task["c"].items()}, attrs)
            good = (sc >= 0.8).nonzero().view(-1)
            pick = (
                good[torch.randperm(len(good), generator=g)[: 1 + args.variants]]
                if len(good)
                else sc.argsort(descending=True)[:1]
            )
            add("copy C", task["move"], score(judge.read(generate(G, bank.z[pick])), task["target"], m))
            add(
                "unconditional",
                task["move"],
                score(judge.read(uncond[torch.randint(0, len(uncond), (1 + args.variants,), generator=g)]), task["target"], m),
            )
        real_u8 = torch.from_numpy(np.asarray(data.images[: 4096]))
        for method, imgs in made.items():
            imgs = torch.cat(imgs)
            fids.setdefault(method, []).append(domain_fid(bank.classifier, real_u8, imgs))
            same_count = domain_fid(bank.classifier, real_u8, uncond[: len(imgs)])
            fids.setdefault(f"unconditional ({method}'s count)", []).append(same_count)
        print(f"  | {'':22s} | " + " | ".join(f"{mv:>24s}" for mv in [*MOVES, "all moves"]) + " |")
        for row in rows:
            cells = []
            for move in [*MOVES, "all moves"]:
                k, n = counts.get((row, move, "all"), [0, 0])
                mk, _ = counts.get((row, move, "moved"), [0, 0])
                kk, _ = counts.get((row, move, "kept"), [0, 0])
                cells.append(f"{k / max(n, 1):4.0%} (moved {mk / max(n, 1):3.0%} kept {kk / max(n, 1):3.0%})")
                per_gen.setdefault((row, move), []).append(k / max(n, 1))
            print(f"  | {row:22s} | " + " | ".join(f"{x:>24s}" for x in cells) + " |")
        for key, (k, n) in counts.items():
            cell = pooled.setdefault(key, [0, 0])
            cell[0] += k
            cell[1] += n
    print(f"\nall {len(ckpts)} generators: share of results judged correct, Wilson 95% interval; all = every attribute right;"
          " mean ± std over generators in brackets")
    print("| method | move | all correct | moved attribute | kept attributes | read confidently | all correct among those |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        for move in [*MOVES, "all moves"]:
            cells = []
            for metric in ("all", "moved", "kept", "confident", "confident all"):
                k, n = pooled.get((row, move, metric), [0, 0])
                lo, hi = wilson(k, n)
                cells.append(f"{k / max(n, 1):.1%} [{lo:.1%}, {hi:.1%}] of {n}")
            spread = per_gen.get((row, move), [])
            sd = statistics.stdev(spread) if len(spread) > 1 else 0.0
            cells[0] += f" ({statistics.mean(spread):.1%} ± {sd:.1%})" if spread else ""
            print(f"| {row} | {move} | " + " | ".join(cells) + " |")
    print("\n| method | edit size, share of the prior's typical norm (mean ± std) | steps (mean) | results' domain FID "
          "| unconditional samples' FID, same count | ratio |")
    print("|---|---|---|---|---|---|")
    for method in methods:
        e = edits.get(method, [])
        st = steps_taken.get(method, [])
        f, u = fids.get(method, []), fids.get(f"unconditional ({method}'s count)", [])
        size = f"{statistics.mean(e):.0%} ± {statistics.stdev(e):.0%}" if len(e) > 1 else "-"
        ratio = statistics.mean(f) / statistics.mean(u) if f and u else float("nan")
        if not f:
            print(f"| {method} | {size} | - | - | - | - |")
            continue
        steps = f"{statistics.mean(st):.0f}" if st else "-"
        print(f"| {method} | {size} | {steps} | {statistics.mean(f):.3g} | {statistics.mean(u):.3g} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
