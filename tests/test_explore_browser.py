"""`dcgan explore` in a real headless Chromium (Debian's chromium + chromium-driver, driven by Selenium):
the page loads, a click enlarges a sample, the truncation slider changes the grid, an expression
gives a verdict, a walk's t slider changes the frame. Screenshots land in the test's tmp folder."""

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


def test_the_page_in_a_real_browser(server, browser, tmp_path, shapes_classifier):
    from selenium.webdriver.common.by import By

    browser.get(server)
    before = wait_for(lambda: tile_sources(browser), what="the sample grid")
    assert len(before) == 64
    tiles = browser.find_elements(By.CSS_SELECTOR, "#grid img.tile")
    browser.save_screenshot(str(tmp_path / "grid.png"))

    tiles[5].click()  # enlarge one: its seed and its picture
    wait_for(lambda: browser.find_element(By.ID, "detail-panel").is_displayed(), what="the detail panel")
    assert browser.find_element(By.ID, "detail-seed").text == "seed 5"
    assert browser.find_element(By.ID, "detail-img").get_attribute("src") == before[5]

    # the truncation slider: the grid is drawn again, closer to the mean
    browser.execute_script("const s = document.getElementById('trunc'); s.value = '0.3'; s.dispatchEvent(new Event('input'));"
                           "s.dispatchEvent(new Event('change'));")
    after = wait_for(lambda: (lambda now: now if len(now) == 64 and now[0] != before[0] else None)(tile_sources(browser)),
                     what="the grid at truncation 0.3")
    assert sum(a != b for a, b in zip(after, before)) > 32
    assert browser.find_element(By.ID, "trunc-value").text == "0.30"

    # arithmetic: type, press the button, the verdict lines appear with the figure
    expr = browser.find_element(By.ID, "expr")
    expr.send_keys("small red square - small square + large square")
    browser.find_element(By.ID, "run-arith").click()
    verdict = wait_for(lambda: browser.find_element(By.ID, "verdict").text, timeout=300, what="the verdict")
    assert "small/large: expected large" in verdict and ("changed as asked" in verdict or "partly" in verdict)
    assert browser.find_element(By.ID, "arith-figure").is_displayed()
    results = browser.find_elements(By.CSS_SELECTOR, "#arith-results img")
    assert len(results) >= 1
    browser.save_screenshot(str(tmp_path / "arithmetic.png"))

    # a result becomes an end of a walk; the t slider moves through its frames
    results[0].click()
    assert browser.find_element(By.ID, "end-a").get_attribute("value").startswith("z:")
    browser.find_element(By.ID, "walk").click()
    frame = wait_for(lambda: browser.find_element(By.ID, "frame").get_attribute("src"), what="the first frame")
    browser.execute_script("const t = document.getElementById('t'); t.value = '8'; t.dispatchEvent(new Event('input'));")
    assert browser.find_element(By.ID, "frame").get_attribute("src") != frame
    assert browser.find_element(By.ID, "t-value").text == "1.00"
    assert "failed" not in (browser.find_element(By.ID, "status").get_attribute("class") or "")
    logs = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not logs, logs
