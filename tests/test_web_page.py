"""The web page in a real headless browser: Debian's chromium driven by playwright, nothing from outside 127.0.0.1."""
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.helpers.runs import REPO, subprocess_env

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the demo exited: {process.stdout.read()[-3000:]}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{url} did not answer within {timeout} s")


@pytest.mark.slow
def test_web_page_answers_a_dropped_painting_offline(three_stage_run, tmp_path):
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("CI must install Debian's chromium (.ci/run does)")
        pytest.skip("no chromium here: apt-get install chromium")
    from playwright.sync_api import sync_playwright
    tmp, data, _ = three_stage_run
    painting = sorted((data / "images" / "Edgar_Degas").glob("*.jpg"))[0]
    port = free_port()
    env = subprocess_env()
    demo = subprocess.Popen([sys.executable, "-m", "artist_cli.demo", "--ckpt", str(tmp / "runs" / "t" / "stage3" / "best.ckpt"),
                             "--port", str(port)], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(base + "/", demo)
        requests, errors = [], []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                 args=["--no-sandbox", "--disable-dev-shm-usage"])
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("request", lambda request: requests.append(request.url))
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(base + "/", wait_until="networkidle")
            page.set_input_files("input[type=file]", str(painting))
            page.wait_for_selector("#answer h3", timeout=60_000)
            page.wait_for_function("document.querySelector('#top5') && "
                                   "document.querySelector('#top5').innerText.includes('%')", timeout=60_000)
            page.wait_for_load_state("networkidle")
            answer = page.inner_text("#answer h3")
            top5 = page.inner_text("#top5")
            page.screenshot(path=str(tmp_path / "web_page.png"), full_page=True)
            browser.close()
    finally:
        demo.terminate()
        demo.wait(timeout=30)
    artists = ["Claude Monet", "Edgar Degas", "Paul Gauguin"]
    assert answer in artists or answer == "Unknown artist", answer
    assert any(artist in top5 for artist in artists), top5
    outside = [url for url in requests if not url.startswith((base, "data:", "blob:"))]
    assert not outside, outside
    assert not errors, errors
    assert (tmp_path / "web_page.png").stat().st_size > 10_000
