"""The explorer on a real run, driven in headless Chromium as a new user would use it: every panel
used once, timed, and photographed.

    python benchmarks/explore_tour.py RUN [--out docs/explorer] [--concept square] [--expr "red circle - circle + square"]

Needs Chromium and its driver (apt-get install chromium chromium-driver) and selenium (the test
extra). Prints, for a drag of the truncation slider held for a few seconds, how many grids were
drawn while it was held and G's time per grid (the caption's figure), then how long each first use
took (the classifier's reading, nearest images, the concept slider, arithmetic, a projection), and
writes one screenshot per panel into --out.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path


def serve(run: Path, uploads: Path) -> str:
    import uvicorn

    from dcgan_cli.explore.app import create_app
    from dcgan_cli.explore.session import Explorer

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(Explorer(run, uploads, device="cpu"), token="tour", host="127.0.0.1", port=port)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}/?token=tour"


def chromium():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1800",
                "--disable-background-networking", "--no-first-run", "--disable-extensions"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)


def until(check, timeout=1800.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            value = check()
        except Exception:  # an element the page replaced meanwhile: read it again
            value = None
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError("the page did not get there")


def idle(b) -> bool:
    return b.execute_script("return !document.querySelector('#status.busy') && !window.__busy")


def timed(b, what: str, button: str, done) -> float:
    """Click `button`, wait until done() and the status line is quiet; print and return the seconds."""
    from selenium.webdriver.common.by import By

    t0 = time.perf_counter()
    b.find_element(By.ID, button).click()
    until(lambda: done() and idle(b))
    seconds = time.perf_counter() - t0
    print(f"{what}: {seconds:.1f} s")
    return seconds


def shoot(b, out: Path, panel: str) -> None:
    from selenium.webdriver.common.by import By

    el = b.find_element(By.ID, panel)
    b.execute_script("arguments[0].scrollIntoView()", el)
    el.screenshot(str(out / f"{panel}.png"))


def drag(b, seconds: float) -> list[float]:
    """Hold the truncation slider and move it for `seconds`; G's ms of every grid drawn while held."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    b.execute_script("window.__drawn = []; new MutationObserver(() => window.__drawn.push("
                     "document.getElementById('grid-caption').textContent)).observe("
                     "document.getElementById('grid-caption'), {childList: true, characterData: true, subtree: true});")
    slider = b.find_element(By.ID, "trunc")
    step = max(1, slider.size["width"] // 40)
    chain = ActionChains(b, duration=20).click_and_hold(slider)  # one chain: the button stays down throughout
    for k in range(int(seconds / 0.05)):
        chain.move_by_offset(-step if (k // 15) % 2 == 0 else step, 0).pause(0.05)
    chain.perform()
    drawn = b.execute_script("return window.__drawn")
    ActionChains(b).release().perform()
    until(lambda: idle(b))
    return [float(m.group(1)) for m in (re.search(r"drew them in ([0-9.]+) ms", t) for t in drawn) if m]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path)
    ap.add_argument("--out", type=Path, default=Path("docs/explorer"))
    ap.add_argument("--seed", type=int, default=9)
    ap.add_argument("--concept", default="square")
    ap.add_argument("--expr", default="red circle - circle + square")
    ap.add_argument("--picture", type=Path, help="a picture to project (default: a training-like shape drawn now)")
    args = ap.parse_args()
    from selenium.webdriver.common.by import By

    args.out.mkdir(parents=True, exist_ok=True)
    uploads = Path(tempfile.mkdtemp(prefix="explore-tour-"))
    flags = sorted(set(re.findall(r"avx[^ \n]*", Path("/proc/cpuinfo").read_text())))
    print(f"cpu: {os.cpu_count()} cores; flags: {' '.join(flags)}")
    b = chromium()
    try:
        t0 = time.perf_counter()
        b.get(serve(args.run, uploads))
        until(lambda: len(b.find_elements(By.CSS_SELECTOR, "#grid img.tile")) == 64)
        print(f"page open with 64 samples: {time.perf_counter() - t0:.1f} s")
        ms = drag(b, 4.0)
        print(f"dragging the truncation slider for 4 s: {len(ms)} grids of 64 drawn while held; G per grid median "
              f"{statistics.median(ms):.0f} ms, max {max(ms):.0f} ms" if ms else "no grid drawn while held")
        b.execute_script("const s = document.getElementById('trunc'); s.value = '1'; s.dispatchEvent(new Event('input'));")
        until(lambda: idle(b) and "1.00" == b.find_element(By.ID, "trunc-value").text)
        shoot(b, args.out, "samples-panel")

        tile = b.find_element(By.CSS_SELECTOR, f"#grid img.tile[data-seed='{args.seed}']")
        tile.click()
        timed(b, "what the classifier reads (first use)", "read", lambda: b.find_element(By.ID, "read-lines").text)
        timed(b, "nearest training images (first use)", "neighbours",
              lambda: b.find_element(By.ID, "neighbours-img").is_displayed())
        b.execute_script(f"document.getElementById('concept').value = {args.concept!r}")
        timed(b, f"concept slider '{args.concept}' (first use)", "steer",
              lambda: b.find_element(By.ID, "steer-box").is_displayed())
        for pos in ("0", "8", "16"):
            b.execute_script(f"const s = document.getElementById('steer-pos'); s.value = '{pos}';"
                             "s.dispatchEvent(new Event('input'));")
            print(f"  slider at {pos}/16: {b.find_element(By.ID, 'steer-read').text}")
        shoot(b, args.out, "detail-panel")

        b.find_element(By.ID, "use-a").click()
        b.execute_script(f"document.getElementById('end-b').value = 'seed:{args.seed + 5}'")
        timed(b, "a walk of 9 frames", "walk", lambda: b.find_element(By.ID, "frame").is_displayed())
        b.execute_script("const t = document.getElementById('t'); t.value = '4'; t.dispatchEvent(new Event('input'));")
        shoot(b, args.out, "interp-panel")

        b.find_element(By.ID, "expr").send_keys(args.expr)
        timed(b, f"arithmetic '{args.expr}' (first use)", "run-arith", lambda: b.find_element(By.ID, "verdict").text)
        print("  " + b.find_element(By.ID, "verdict").text.splitlines()[0])
        shoot(b, args.out, "arith-panel")

        picture = args.picture or draw_picture(uploads)
        b.find_element(By.ID, "file").send_keys(str(picture.resolve()))
        timed(b, "projecting a picture", "project", lambda: b.find_element(By.ID, "project-figure").is_displayed())
        shoot(b, args.out, "upload-panel")
        shoot(b, args.out, "run-panel")
        severe = [e for e in b.get_log("browser") if e["level"] == "SEVERE"]
        print(f"browser errors: {len(severe)}; screenshots in {args.out}/")
    finally:
        b.quit()
        shutil.rmtree(uploads, ignore_errors=True)


def draw_picture(folder: Path) -> Path:
    """A shape as the built-in data set draws them (a test split's image), saved as a PNG to upload."""
    import numpy as np
    from PIL import Image

    from dcgan_cli.data.shapes import draw_shapes

    image = draw_shapes(np.array([1]), np.array([0]), np.array([1]), 64, np.random.default_rng(7))[0].transpose(1, 2, 0)
    path = folder / "red-square.png"
    Image.fromarray(image).save(path)
    return path


if __name__ == "__main__":
    main()
