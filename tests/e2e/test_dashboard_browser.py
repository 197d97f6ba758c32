"""The dashboard in a real browser: Debian's Chromium, headless, driven by Selenium through
Debian's chromedriver (so Selenium Manager never downloads anything), against the running
platform. The figures the page shows must equal what the services' APIs answer, and a full-page
screenshot of each view is saved under ``artifacts/`` whether the checks pass or fail.

The platform comes from the session fixture ``running_platform`` (``tests/e2e/conftest.py``):
``dashboard_url``, ``api`` (service -> base URL), ``tokens`` (role -> bearer token) and
``seller_ids`` (sellers the simulation created, with orders and claims).
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, Protocol, TypeVar

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver as Chrome
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
SETTLED = ("ready", "error", "needs-token")  # <body data-state> once a view's reads finished
T = TypeVar("T")

pytestmark = [
    pytest.mark.e2e,
    # Off CI a machine without Debian's browser skips; on CI (CI set) the test runs and fails,
    # since the project's set-up is what installs the browser there.
    pytest.mark.skipif(
        not (CHROMIUM.exists() and CHROMEDRIVER.exists()) and not os.environ.get("CI"),
        reason=f"needs Debian's chromium and chromium-driver ({CHROMIUM}, {CHROMEDRIVER});"
        " apt-get install chromium chromium-driver",
    ),
]


class RunningPlatform(Protocol):
    dashboard_url: str
    api: dict[str, str]
    tokens: dict[str, str]
    seller_ids: list[str]


@pytest.fixture
def browser() -> Iterator[Chrome]:
    for needed in (CHROMIUM, CHROMEDRIVER):
        assert needed.exists(), f"{needed} is missing: apt-get install chromium chromium-driver"
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",  # root in a container has no user namespace for Chromium's sandbox
        "--disable-dev-shm-usage",  # a container's /dev/shm is often too small
        "--window-size=1280,900",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def _percent(rate: str) -> str:
    """The page's rendering of an API rate: a percentage with two places, halves up."""
    return f"{(Decimal(rate) * 100).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)}%"


def _state(driver: Chrome) -> str:
    return driver.find_element(By.TAG_NAME, "body").get_attribute("data-state") or ""


def _wait_settled(driver: Chrome, also: Callable[[Chrome], bool] = lambda d: True) -> None:
    """Wait until the current view's reads are done; fail with what the page says if any
    failed."""
    WebDriverWait(driver, 30).until(lambda d: also(d) and _state(d) in SETTLED)
    state = _state(driver)
    if state != "ready":
        shown = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#banner, .error-box")]
        raise AssertionError(f"the dashboard settled as {state!r}: {shown}")


def _refresh(driver: Chrome) -> None:
    # The click handler marks the page "loading" before it returns, so the wait cannot see the
    # previous "ready".
    driver.find_element(By.CSS_SELECTOR, '[data-testid="refresh"]').click()
    _wait_settled(driver)


def _text(driver: Chrome, testid: str) -> str:
    return driver.find_element(By.CSS_SELECTOR, f'[data-testid="{testid}"]').text


def _attribute(driver: Chrome, testid: str, name: str) -> str:
    element = driver.find_element(By.CSS_SELECTOR, f'[data-testid="{testid}"]')
    return element.get_attribute(name) or ""


def _agreeing(expected: Callable[[], T], shown: Callable[[], T], reload: Callable[[], None]) -> T:
    """What the page shows, read between two API reads that agree, so both describe the same
    moment even while the platform is still settling."""
    for _ in range(6):
        before = expected()
        reload()
        seen = shown()
        after = expected()
        if before == after:
            assert seen == before
            return seen
        time.sleep(1)
    raise AssertionError("the platform's figures kept changing while the dashboard was read")


def _save_full_page(driver: Chrome, path: Path) -> None:
    """The whole page, not only the window: Chromium's DevTools capture beyond the viewport."""
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
        },
    )
    path.write_bytes(base64.b64decode(shot["data"]))


@contextmanager
def _phase(
    driver: Chrome, screenshot: str, failures: list[tuple[str, Exception]]
) -> Iterator[None]:
    """Run one view's checks, keep a failure for the end (so the next view is still checked
    and photographed), and save the screenshot either way."""
    try:
        yield
    except Exception as error:  # reported together at the end of the test
        failures.append((screenshot, error))
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        try:
            _save_full_page(driver, ARTIFACTS / screenshot)
        except WebDriverException as error:
            failures.append((f"saving {screenshot}", error))


def _no_console_errors(driver: Chrome) -> None:
    # A broken script, a refused read or a content-policy violation all land here.
    # selenium leaves get_log unannotated
    entries: list[dict[str, Any]] = driver.get_log("browser")  # type: ignore[no-untyped-call]
    severe = [e["message"] for e in entries if e["level"] == "SEVERE"]
    assert severe == [], severe


def test_the_dashboard_shows_the_figures_the_apis_answer(
    running_platform: RunningPlatform, browser: Chrome
) -> None:
    platform = running_platform
    token = platform.tokens["operator"]
    failures: list[tuple[str, Exception]] = []
    http = httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=10)

    def read(url: str) -> Any:
        answer = http.get(url)
        answer.raise_for_status()
        return answer.json()

    with http:
        with _phase(browser, "dashboard-operator.png", failures):
            _check_operator_view(browser, platform, read)
        with _phase(browser, "dashboard-seller.png", failures):
            _check_seller_view(browser, platform, read)
    if failures:
        # One report naming every failed view, chained to the first failure for its traceback.
        report = "\n\n".join(f"[{where}] {type(e).__name__}: {e}" for where, e in failures)
        raise AssertionError(report) from failures[0][1]


def _check_operator_view(
    browser: Chrome, platform: RunningPlatform, read: Callable[[str], Any]
) -> None:
    metrics, adjudication = platform.api["metrics"], platform.api["adjudication"]
    browser.get(f"{platform.dashboard_url}/#token={platform.tokens['operator']}")
    _wait_settled(browser)
    assert "token=" not in browser.current_url  # the token left the address bar

    def expected() -> dict[str, str]:
        at_risk = read(f"{metrics}/v1/sellers/at-risk?limit=500")["sellers"]
        queue = read(f"{adjudication}/v1/review-queue")["claims"]
        sellers = read(f"{metrics}/v1/sellers?limit=1")["total"]
        return {
            "at-risk-count": str(len(at_risk)),
            "review-queue-count": str(len(queue)),
            "sellers-total": f"{sellers:,}",
        }

    def shown() -> dict[str, str]:
        return {
            key: _text(browser, key)
            for key in ("at-risk-count", "review-queue-count", "sellers-total")
        }

    _agreeing(expected, shown, lambda: _refresh(browser))
    _no_console_errors(browser)


def _check_seller_view(
    browser: Chrome, platform: RunningPlatform, read: Callable[[str], Any]
) -> None:
    metrics, adjudication = platform.api["metrics"], platform.api["adjudication"]
    at_risk = read(f"{metrics}/v1/sellers/at-risk?limit=500")["sellers"]
    seller = at_risk[0]["seller_id"] if at_risk else platform.seller_ids[0]
    links = browser.find_elements(
        By.CSS_SELECTOR, f'[data-testid="at-risk-table"] tr[data-seller="{seller}"] a'
    )
    if links:
        links[0].click()  # what an operator does: open the seller from the at-risk list
    else:
        browser.get(f"{platform.dashboard_url}/#seller={seller}")
    _wait_settled(browser, lambda d: _text(d, "seller-title") == seller)

    def expected() -> dict[str, str]:
        health = read(f"{metrics}/v1/sellers/{seller}/health")
        history = read(f"{metrics}/v1/sellers/{seller}/history?days=90")["days"]
        claims = read(f"{adjudication}/v1/sellers/{seller}/claims?tab=all&limit=500")["claims"]
        return {
            "rate": health["rate"],
            "rate shown": _percent(health["rate"]),
            "orders to recover": str(health["orders_to_recover"]),
            "orders to recover shown": f"{health['orders_to_recover']:,}",
            "status": health["status"].replace("_", " "),
            "history days": str(len(history)),
            "claims in all": str(len(claims)),
        }

    def shown() -> dict[str, str]:
        browser.find_element(By.CSS_SELECTOR, '[data-testid="claims-tab-all"]').click()
        badge = browser.find_element(By.CSS_SELECTOR, '.health [data-testid="status-badge"]')
        return {
            "rate": _attribute(browser, "seller-rate", "data-value"),
            "rate shown": _text(browser, "seller-rate"),
            "orders to recover": _attribute(browser, "seller-orders-to-recover", "data-value"),
            "orders to recover shown": _text(browser, "seller-orders-to-recover"),
            "status": badge.text.upper(),
            "history days": _attribute(browser, "history-chart", "data-points"),
            "claims in all": _text(browser, "claims-count"),
        }

    _agreeing(expected, shown, lambda: _refresh(browser))
    _no_console_errors(browser)
