"""The try-it app: called through ``gradio_client``, then driven in a real browser (Debian chromium + chromedriver)."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from gradio_client import Client, handle_file

from helpers.tryit.app import build

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(nb02_run: dict) -> Iterator[str]:
    """The app on a free localhost port; its runs folder holds notebook 02's run, so that run is the default model."""
    app = build(nb02_run["step"].parents[1])
    app.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True)
    yield app.local_url
    app.close()


@pytest.fixture(scope="module")
def photos(mirror: Path) -> dict[str, str]:
    lfw = mirror / "datasets" / "lfw" / "lfw-deepfunneled"
    return {name: str(lfw / name.rsplit("_", 1)[0] / f"{name}.jpg") for name in ("Colin_Powell_0001", "Colin_Powell_0002", "Serena_Williams_0001")}


def test_the_app_verifies_through_its_api(app_url: str, photos: dict[str, str], nb02_run: dict) -> None:
    client = Client(app_url, verbose=False)
    step, threshold = str(nb02_run["step"]), nb02_run["metrics"]["protocol"]["operating"]["threshold"]
    same = client.predict(
        handle_file(photos["Colin_Powell_0001"]), None, handle_file(photos["Colin_Powell_0002"]), None, step, "none", "none", api_name="/verify"
    )
    other = client.predict(
        handle_file(photos["Colin_Powell_0001"]), None, handle_file(photos["Serena_Williams_0001"]), None, step, "none", "none", api_name="/verify"
    )
    assert f"threshold {threshold:.4f}" in same[3] and "**match**" in same[3] and "**no match**" in other[3]
    assert len(same[2]) == 2  # both aligned crops
    degraded = client.predict(
        handle_file(photos["Colin_Powell_0001"]),
        None,
        handle_file(photos["Colin_Powell_0002"]),
        None,
        step,
        24,
        0,
        100,
        0,
        1.0,
        "realistic",
        api_name="/degrade",
    )
    assert "cosine score" in degraded[1] and degraded[2] is not None  # the score and its plot against resolution


@pytest.mark.skipif(not (CHROMIUM.exists() and CHROMEDRIVER.exists()), reason="needs Debian's chromium and chromium-driver (.ci/run installs them)")
def test_a_real_browser_uploads_two_photos_and_reads_the_decision(app_url: str, photos: dict[str, str], tmp_path: Path) -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking", "--no-first-run"):
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'profile'}")
    options.add_argument("--window-size=1400,1600")
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        driver.get(app_url)
        wait = WebDriverWait(driver, 45)
        for element, name in (("photo-a", "Colin_Powell_0001"), ("photo-b", "Colin_Powell_0002")):
            upload = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, f"#{element} input[type=file]")))
            upload.send_keys(str(shutil.copy(photos[name], tmp_path / f"{name}.jpg")))
        wait.until(ec.text_to_be_present_in_element((By.ID, "photo-b"), "Colin_Powell_0002"))  # the upload has landed
        wait.until(ec.element_to_be_clickable((By.ID, "verify"))).click()  # under load the button can render after the upload lands
        wait.until(ec.text_to_be_present_in_element((By.ID, "verify-result"), "cosine score"))
        text = driver.find_element(By.ID, "verify-result").text
        driver.save_screenshot(str(tmp_path / "app.png"))
    finally:
        driver.quit()
    score = float(text.split("cosine score")[1].split()[0])
    assert 0 < score <= 1 and "match" in text and (tmp_path / "app.png").stat().st_size > 0
