"""How fast `dcgan explore` answers: one sample, a slider's move, a grid of 64, through the real server.

    python benchmarks/explore_speed.py [--ckpt RUN] [--device cpu]

Without --ckpt it trains a paper64 model (the paper's 64 px architecture, ngf = ndf = 64) for 2
steps on the built-in shapes: the weights' values do not change the time. The server runs as
`dcgan explore` runs it (uvicorn, Starlette) and is asked over HTTP; each figure is the median
and the 95th percentile of the calls (JSON with the PNGs in it, decoded by the client, included).
Goals (issue 26): one image at most 200 ms and a grid of 64 at most 2 s on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path


def paper64_run(folder: Path) -> Path:
    from dcgan_cli import plan_run, train

    run = folder / "paper64"
    train(plan_run(dataset="shapes", preset="paper64", train={"max_steps": 2, "batch_size": 16}, out=run), device="cpu")
    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", type=Path)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--calls", type=int, default=30)
    args = ap.parse_args()
    import torch
    import uvicorn

    from dcgan_cli.core.device import select_device
    from dcgan_cli.explore.app import create_app
    from dcgan_cli.explore.session import Explorer

    tmp = Path(tempfile.mkdtemp(prefix="explore-speed-"))
    target = args.ckpt or paper64_run(tmp)
    explorer = Explorer(target, tmp, device=select_device(args.device))
    cfg = explorer.checkpoint(None).model_config
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(explorer, token="bench", host="127.0.0.1", port=port)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}/api/samples?token=bench&"

    model_ms: dict[str, list[float]] = {}

    def timed(query: str) -> float:
        t0 = time.perf_counter()
        data = json.loads(urllib.request.urlopen(base + query, timeout=60).read())
        assert data["images"], data
        model_ms.setdefault(str(len(data["images"])), []).append(data["model_ms"])
        return time.perf_counter() - t0

    timed("seeds=0-63")  # warm up: the checkpoint is loaded once per session
    cases = {
        "one sample (a new seed each call)": [timed(f"seeds={1000 + i}") for i in range(args.calls)],
        "a slider's move (one image, new truncation)": [timed(f"seeds=5&trunc={0.5 + i / (2 * args.calls):.3f}")
                                                        for i in range(args.calls)],
        "more like this (one image around a seed)": [timed(f"seeds={i}&around=5&radius=0.3") for i in range(args.calls)],
        "grid of 64": [timed(f"seeds={64 * i}-{64 * i + 63}") for i in range(max(5, args.calls // 3))],
    }
    server.should_exit = True
    flags = subprocess.run("grep -o 'avx[^ ]*' /proc/cpuinfo | sort -u | tr '\\n' ' '", shell=True, capture_output=True,
                           text=True).stdout.strip()
    device = explorer.device
    card = torch.cuda.get_device_name() if str(device).startswith("cuda") else f"{os.cpu_count()} CPU cores ({flags})"
    print(f"{cfg.size} px model (ngf {cfg.ngf}), device {device}, {card}; torch threads {torch.get_num_threads()}")
    print("| request | median | 95th percentile | calls |")
    print("|---|---|---|---|")
    for name, times in cases.items():
        q = statistics.quantiles(times, n=20)[-1] if len(times) >= 2 else times[0]
        print(f"| {name} | {1000 * statistics.median(times):.0f} ms | {1000 * q:.0f} ms | {len(times)} |")
    for n, ms in sorted(model_ms.items(), key=lambda kv: int(kv[0])):  # G's share: what a dragged slider's frame costs
        print(f"G's own time for {n} image(s): median {statistics.median(ms):.0f} ms, max {max(ms):.0f} ms ({len(ms)} calls)")


if __name__ == "__main__":
    main()
