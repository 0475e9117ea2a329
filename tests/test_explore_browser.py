"""`dcgan explore` in a real headless Chromium (Debian's chromium + chromium-driver, driven by Selenium):
the page loads, a click enlarges a sample, the truncation slider redraws the grid while it is held,
the arrow keys page through seeds, a concept slider moves what the classifier reads, an expression
gives a verdict, a walk's t slider changes the frame. Screenshots of every panel land in the test's
tmp folder, or in $DCGAN_SCREENSHOTS (docs/explorer/ holds the ones the README shows)."""

import os
import shutil
import socket
import threading
import time

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
DRIVER = shutil.which("chromedriver")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,  # starts Chromium
    pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="no Chromium here: apt-get install chromium chromium-driver "
                       "(.ci/run does) to run the explorer's browser tests"),
]


@pytest.fixture
def server(concept_run, tmp_path):
    import uvicorn

    from dcgan_cli.explore.app import create_app
    from dcgan_cli.explore.session import Explorer

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(Explorer(concept_run, tmp_path / "uploads-dir", device="cpu"), token="browser-token", port=port)
    (tmp_path / "uploads-dir").mkdir()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not srv.started and time.time() < deadline:
        time.sleep(0.05)
    assert srv.started, "the explorer's server did not start in 30 s"
    yield f"http://127.0.0.1:{port}/?token=browser-token"
    srv.should_exit = True
    thread.join(10)


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1800",
                "--disable-background-networking", "--no-first-run", "--disable-extensions"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


def wait_for(check, timeout=120.0, what="the page"):
    """Poll check() until it is true; an element the page replaced meanwhile (a grid drawn again) is read again."""
    from selenium.common.exceptions import StaleElementReferenceException

    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            value = check()
        except StaleElementReferenceException:
            value = None
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def tile_sources(browser) -> list[str]:
    """The grid's pictures, read in one script call (the page may replace the grid between two calls)."""
    return browser.execute_script("return [...document.querySelectorAll('#grid img.tile')].map(t => t.src)")


def shoot(browser, tmp_path, panel: str, name: str | None = None) -> None:
    """A screenshot of one panel of the page, named for it (or `name`)."""
    from selenium.webdriver.common.by import By

    folder = os.environ.get("DCGAN_SCREENSHOTS") or tmp_path
    os.makedirs(folder, exist_ok=True)
    el = browser.find_element(By.ID, panel)
    browser.execute_script("arguments[0].scrollIntoView()", el)
    el.screenshot(os.path.join(folder, f"{name or panel}.png"))


def test_the_page_in_a_real_browser(server, browser, tmp_path, shapes_classifier):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get(server)
    before = wait_for(lambda: tile_sources(browser), what="the sample grid")
    assert len(before) == 64
    tiles = browser.find_elements(By.CSS_SELECTOR, "#grid img.tile")
    captions = browser.execute_script("return [...document.querySelectorAll('#grid figcaption')].map(c => c.textContent)")
    assert captions[:2] == ["seed 0", "seed 1"]  # the seed written under every tile, not only on hover
    assert tiles[0].size["width"] >= 96

    # dragging the truncation slider redraws the grid while the mouse is still held
    slider = browser.find_element(By.ID, "trunc")
    hold = ActionChains(browser).click_and_hold(slider).move_by_offset(-slider.size["width"] // 3, 0)
    hold.perform()
    held = wait_for(lambda: (lambda now: now if len(now) == 64 and now[0] != before[0] else None)(tile_sources(browser)),
                    what="the grid redrawn while the slider is held")
    assert float(browser.find_element(By.ID, "trunc").get_attribute("value")) < 1
    ActionChains(browser).release().perform()
    wait_for(lambda: browser.execute_script("return !document.querySelector('#status.busy')"), what="the redraw")
    browser.execute_script("const s = document.getElementById('trunc'); s.value = '1'; s.dispatchEvent(new Event('input'));")
    wait_for(lambda: tile_sources(browser) == before, what="the grid at truncation 1 again")
    assert held != before

    # the arrow keys page through seeds
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.ARROW_RIGHT)
    wait_for(lambda: browser.find_element(By.ID, "seeds").get_attribute("value") == "64-127", what="the next page")
    wait_for(lambda: browser.execute_script("return document.querySelector('#grid figcaption').textContent") == "seed 64",
             what="seeds 64-127 drawn")
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.ARROW_LEFT)
    wait_for(lambda: tile_sources(browser) == before, what="seeds 0-63 again")
    shoot(browser, tmp_path, "samples-panel")
    tiles = browser.find_elements(By.CSS_SELECTOR, "#grid img.tile")

    tiles[5].click()  # enlarge one: its seed and its picture
    wait_for(lambda: browser.find_element(By.ID, "detail-panel").is_displayed(), what="the detail panel")
    assert browser.find_element(By.ID, "detail-seed").text == "seed 5"
    assert browser.find_element(By.ID, "detail-img").get_attribute("src") == before[5]

    # a concept slider: toward "square", what the classifier reads goes up; away from it, down
    browser.execute_script("document.getElementById('concept').value = 'square'")
    browser.find_element(By.ID, "steer").click()
    wait_for(lambda: browser.find_element(By.ID, "steer-box").is_displayed(), timeout=300, what="the concept slider")
    reading = browser.find_element(By.ID, "steer-read")

    def square_at(position: str) -> int:
        browser.execute_script(f"const s = document.getElementById('steer-pos'); s.value = '{position}';"
                               "s.dispatchEvent(new Event('input'));")
        return int(reading.text.rsplit("square ", 1)[1].split("%")[0])

    at_sample = square_at("8")
    assert reading.text.startswith("the sample:")
    shown = browser.find_element(By.ID, "detail-img").get_attribute("src")
    more, less = square_at("16"), square_at("0")
    assert more >= 80 and more >= at_sample >= less, (less, at_sample, more)
    assert browser.find_element(By.ID, "detail-img").get_attribute("src") != shown
    square_at("16")
    assert reading.text.startswith("more square:")
    shoot(browser, tmp_path, "detail-panel")

    # the truncation slider: the grid is drawn again, closer to the mean
    browser.execute_script("const s = document.getElementById('trunc'); s.value = '0.3'; s.dispatchEvent(new Event('input'));"
                           "s.dispatchEvent(new Event('change'));")
    after = wait_for(lambda: (lambda now: now if len(now) == 64 and now[0] != before[0] else None)(tile_sources(browser)),
                     what="the grid at truncation 0.3")
    assert sum(a != b for a, b in zip(after, before)) > 32
    assert browser.find_element(By.ID, "trunc-num").get_attribute("value") == "0.30"
    # typed to the hundredth in the number field beside the slider (a short drag once jumped from 1.00 to 0.65)
    typed = browser.find_element(By.ID, "trunc-num")
    typed.send_keys(Keys.CONTROL, "a")
    typed.send_keys("0.97", Keys.TAB)
    wait_for(lambda: browser.find_element(By.ID, "trunc").get_attribute("value") == "0.97", what="the slider set by typing")
    browser.execute_script("const s = document.getElementById('trunc'); s.value = '0.3'; s.dispatchEvent(new Event('input'));")
    wait_for(lambda: browser.execute_script("return !document.querySelector('#status.busy')"), what="the redraw")

    # arithmetic: type, press the button, the verdict lines appear with the figure
    expr = browser.find_element(By.ID, "expr")
    expr.send_keys("small red square - small square + large square")
    browser.find_element(By.ID, "run-arith").click()
    verdict = wait_for(lambda: browser.find_element(By.ID, "verdict").text, timeout=300, what="the verdict")
    assert "small/large: expected large" in verdict and ("changed as asked" in verdict or "partly" in verdict)
    assert browser.find_element(By.ID, "arith-figure").is_displayed()
    results = browser.find_elements(By.CSS_SELECTOR, "#arith-results img")
    assert len(results) >= 1
    shoot(browser, tmp_path, "arith-panel")

    # a result becomes an end of a walk; the t slider moves through its frames
    results[0].click()
    assert browser.find_element(By.ID, "end-a").get_attribute("value").startswith("z:")
    browser.find_element(By.ID, "walk").click()
    frame = wait_for(lambda: browser.find_element(By.ID, "frame").get_attribute("src"), what="the first frame")
    browser.execute_script("const t = document.getElementById('t'); t.value = '8'; t.dispatchEvent(new Event('input'));")
    assert browser.find_element(By.ID, "frame").get_attribute("src") != frame
    assert browser.find_element(By.ID, "t-value").text == "1.00"
    assert len(browser.find_elements(By.CSS_SELECTOR, "#strip figure")) == 9  # the walk as a strip, its frame marked
    assert browser.find_elements(By.CSS_SELECTOR, "#strip figure.current img")[0].get_attribute("src") == \
        browser.find_element(By.ID, "frame").get_attribute("src")
    shoot(browser, tmp_path, "interp-panel")

    # a walk's end in words, as `dcgan interpolate --from square` takes it; a bad end says so beside the panel
    end_a = browser.find_element(By.ID, "end-a")
    end_a.clear()
    end_a.send_keys("frobnicate")
    browser.find_element(By.ID, "walk").click()
    error = wait_for(lambda: (lambda e: e if e and e[0].is_displayed() else None)(
        browser.find_elements(By.CSS_SELECTOR, "#interp-panel .panel-error")), what="the error in the panel")[0]
    assert "frobnicate" in error.text and "unknown concept word" in error.text, error.text
    shoot(browser, tmp_path, "interp-panel", "interp-panel-error")
    end_a.clear()
    end_a.send_keys("square")
    browser.find_element(By.ID, "walk").click()
    wait_for(lambda: "square" in browser.find_element(By.ID, "interp-lines").text, timeout=300, what="the walk from a square")
    assert not error.is_displayed()  # the panel's next action clears its error
    tables = browser.find_elements(By.CSS_SELECTOR, "#config table caption")
    assert [t.text for t in tables][:3] == ["checkpoint", "model", "train"]
    assert "/" not in browser.find_element(By.ID, "run-name").text
    shoot(browser, tmp_path, "run-panel")
    assert "failed" not in (browser.find_element(By.ID, "status").get_attribute("class") or "")
    logs = [e for e in browser.get_log("browser") if e["level"] == "SEVERE" and "a=frobnicate" not in e["message"]]
    assert not logs, logs
