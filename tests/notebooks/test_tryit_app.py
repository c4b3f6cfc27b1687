"""The try-it app: called through ``gradio_client``, then driven in a real browser (Debian chromium + chromedriver)."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from helpers.tryit.app import PACKS, build, literal, model_choices
from helpers.tryit.models import load_model

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
    assert f"threshold {literal(f'{threshold:.4f}')}" in same[3] and "**match**" in same[3] and "**no match**" in other[3]
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


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    """Debian's chromium, headless, driven by chromedriver; each test opens the app afresh with :func:`open_app`."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("needs Debian's chromium and chromium-driver (.ci/run installs them)")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking", "--no-first-run"):
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium') / 'profile'}")
    options.add_argument("--window-size=1400,1600")
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    yield driver
    driver.quit()


def open_app(browser: WebDriver, app_url: str) -> WebDriverWait:
    """The app freshly loaded in ``browser``, and a wait long enough for a loaded machine."""
    browser.get(app_url)
    return WebDriverWait(browser, 45)


def test_a_real_browser_uploads_two_photos_and_reads_the_decision(browser: WebDriver, app_url: str, photos: dict[str, str], tmp_path: Path) -> None:
    wait = open_app(browser, app_url)
    for element, name in (("photo-a", "Colin_Powell_0001"), ("photo-b", "Colin_Powell_0002")):
        upload = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, f"#{element} input[type=file]")))
        upload.send_keys(str(shutil.copy(photos[name], tmp_path / f"{name}.jpg")))
    wait.until(ec.text_to_be_present_in_element((By.ID, "photo-b"), "Colin_Powell_0002"))  # the upload has landed
    wait.until(ec.element_to_be_clickable((By.ID, "verify"))).click()  # under load the button can render after the upload lands
    wait.until(ec.text_to_be_present_in_element((By.ID, "verify-result"), "cosine score"))
    text = browser.find_element(By.ID, "verify-result").text
    browser.save_screenshot(str(tmp_path / "app.png"))
    score = float(text.split("cosine score")[1].split()[0])
    assert 0 < score <= 1 and "match" in text and (tmp_path / "app.png").stat().st_size > 0


def test_the_model_lists_name_each_run_by_its_model_not_its_folder(browser: WebDriver, app_url: str, nb02_run: dict) -> None:
    results = nb02_run["step"].parents[1]
    labels = [label for label, _ in model_choices(results)]
    wait = open_app(browser, app_url)
    chosen = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#model input")))
    wait.until(lambda _: chosen.get_attribute("value"))  # the default model's label, once the page has its value
    assert chosen.get_attribute("value") == labels[len(PACKS)]  # the newest run
    wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "#other-model input"))).click()
    options = wait.until(lambda driver: driver.find_elements(By.CSS_SELECTOR, "#other-model [role=option]"))
    shown = [option.get_attribute("aria-label") for option in options]
    assert shown == ["none", *labels] and any("02_baseline" in label for label in shown)
    assert not any(str(results) in label for label in shown)  # no long folder paths


def test_the_identify_tab_shows_the_threshold_it_decides_at(browser: WebDriver, app_url: str, photos: dict[str, str], nb02_run: dict, tmp_path: Path) -> None:
    gallery = tmp_path / "gallery"
    for name in ("Colin_Powell_0001", "Serena_Williams_0001"):
        (gallery / name.rsplit("_", 1)[0]).mkdir(parents=True)
        shutil.copy(photos[name], gallery / name.rsplit("_", 1)[0])
    results = nb02_run["step"].parents[1]
    model = load_model(model_choices(results)[len(PACKS)][1], results=results)  # the app's default: the newest run's step
    expected = f"open-set {model.open_set.threshold:.4f} at FPIR" if model.open_set else f"1:1 {model.operating.threshold:.4f}"
    wait = open_app(browser, app_url)
    upload = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#photo-b input[type=file]")))
    upload.send_keys(str(shutil.copy(photos["Colin_Powell_0002"], tmp_path / "Colin_Powell_0002.jpg")))
    wait.until(ec.text_to_be_present_in_element((By.ID, "photo-b"), "Colin_Powell_0002"))  # the upload has landed
    wait.until(ec.element_to_be_clickable((By.XPATH, "//button[@role='tab' and contains(., 'Identify')]"))).click()
    wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "#gallery textarea"))).send_keys(str(gallery))
    wait.until(ec.element_to_be_clickable((By.ID, "identify"))).click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "identify-result"), "threshold:"))
    text = browser.find_element(By.ID, "identify-result").text
    assert text.startswith("Colin_Powell") and "2 people, 2 photos" in text and expected in text, text
    assert model.open_set is not None or "uncalibrated for search" in text
    searched = load_model(str(nb02_run["step"]), results=results)  # notebook 02's model: notebook 04 set its open-set threshold when it ran
    _, _, verdict = Client(app_url, verbose=False).predict(
        handle_file(photos["Colin_Powell_0002"]), None, str(gallery), str(nb02_run["step"]), 2, api_name="/identify"
    )
    shown = literal(f"open-set {searched.open_set.threshold:.4f} at FPIR" if searched.open_set else "uncalibrated for search")
    assert verdict.startswith("**Colin\\_Powell**") and shown in verdict, verdict
