from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from starlette.testclient import TestClient

from graph.dashboard import static_folder
from graph.schema import build_schema
from tests.conftest import REPO, run_live_server

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts"
# Debian's Chromium as root in a closed network: no sandbox, no GPU, and no
# background connections that the machine would refuse.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
IMPORT = re.compile(r'^import .* from "([^"]+)";$', re.MULTILINE)
LIVE_TIMEOUT_MS = 30_000
ADMIN_TOKEN = "dashboard-admin-token-for-tests"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def rest_job(*visits: tuple[str, list[str]]) -> str:
    return json.dumps(
        {
            "count": len(visits),
            "visits": [
                {"store_id": store, "image_url": urls, "visit_time": "2024-06-01 10:15"}
                for store, urls in visits
            ],
        },
        indent=2,
    )


def schema_has(name: str) -> bool:
    return f"{name}(" in build_schema().as_str()


def test_root_redirects_to_the_dashboard(client: TestClient) -> None:
    response = client.get("/", follow_redirects=False)

    assert response.status_code == 307
    assert response.headers["location"] == "/dashboard"


def test_dashboard_page_and_every_asset_are_served(client: TestClient) -> None:
    page = client.get("/dashboard")
    assets = re.findall(r'(?:src|href)="(/dashboard/assets/[^"]+)"', page.text)
    modules = {p.name for p in static_folder().glob("*.js")}
    responses = {path: client.get(path) for path in assets}
    responses |= {m: client.get(f"/dashboard/assets/{m}") for m in modules}

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "/dashboard/assets/app.js" in assets
    assert "/dashboard/assets/dashboard.css" in assets
    assert {path: r.status_code for path, r in responses.items()} == dict.fromkeys(
        responses, 200
    )
    assert "javascript" in responses["app.js"].headers["content-type"]


def test_scripts_import_only_files_the_service_serves() -> None:
    modules = {p.name for p in static_folder().glob("*.js")}
    imported = {
        name
        for path in static_folder().glob("*.js")
        for name in IMPORT.findall(path.read_text())
    }

    assert imported
    assert {name.removeprefix("./") for name in imported} <= modules
    assert all(name.startswith("./") for name in imported)


def test_with_auth_on_the_page_is_open_and_its_data_is_not(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(auth_required=True, admin_token=ADMIN_TOKEN)
    stats = {"query": "{ stats { queueDepth } }"}

    root = client.get("/", follow_redirects=False)
    page = client.get("/dashboard")
    script = client.get("/dashboard/assets/app.js")
    refused = client.post("/graphql", json=stats).json()
    allowed = client.post("/graphql", json=stats, headers=ADMIN).json()

    assert (root.status_code, page.status_code, script.status_code) == (307, 200, 200)
    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert allowed["data"]["stats"]["queueDepth"] == 0


def test_missing_asset_is_404(client: TestClient) -> None:
    assert client.get("/dashboard/assets/nothing.js").status_code == 404


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: apt-get install -y chromium chromium-driver"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS
        )
        yield launched
        launched.close()


@pytest.fixture
def server() -> Iterator[str]:
    # Slow enough that a job is seen running before it ends.
    yield from run_live_server(processing_delay="0.5-1.5")


@pytest.fixture
def page(browser: Browser, server: str) -> Iterator[Page]:
    context = browser.new_context(
        base_url=server, viewport={"width": 1280, "height": 900}
    )
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.set_default_timeout(LIVE_TIMEOUT_MS)
    yield opened
    context.close()
    assert errors == [], errors


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"dashboard-{name}.png", full_page=True)


def submit_through_page(page: Page, job: str) -> str:
    page.goto("/dashboard#/submit")
    page.get_by_label("Job (JSON)").fill(job)
    page.get_by_role("button", name="Submit job").click()
    page.wait_for_url(re.compile(r"#/jobs/[0-9a-f]{24}$"))
    return page.url.rsplit("/", 1)[1]


def progress_of(page: Page, job_id: str) -> Any:
    return page.locator(f'tr[data-job-id="{job_id}"] [role="progressbar"]')


@pytest.mark.browser
def test_submitted_job_finishes_live_with_sizes_and_errors(
    page: Page, image_server: str
) -> None:
    gif = f"{image_server}/gif_static_solid2_640x400.gif"
    phone = f"{image_server}/jpeg_phone_sonyxperia_720x1280.jpg"
    broken = f"{image_server}/missing-shelf.jpg"
    job = rest_job(("RP00010", [gif, phone]), ("RP04943", [broken]))

    job_id = submit_through_page(page, job)
    page.evaluate("window.notReloaded = true")
    bar = page.locator(".summary [role='progressbar']")
    expect(bar).to_have_attribute("aria-valuenow", "100")
    page.get_by_role("link", name="Jobs", exact=True).click()
    expect(progress_of(page, job_id)).to_have_attribute("aria-valuenow", "100")

    assert page.evaluate("window.notReloaded") is True
    row = page.locator(f'tr[data-job-id="{job_id}"]')
    expect(row).to_have_attribute("data-status", "FAILED")
    screenshot(page, "jobs")
    row.get_by_role("link").click()
    images = page.locator(".visit tbody tr")
    expect(images).to_have_count(3)
    expect(images.nth(0)).to_contain_text("640 \N{MULTIPLICATION SIGN} 400")
    expect(images.nth(0)).to_contain_text("2080")
    expect(images.nth(1)).to_contain_text("720 \N{MULTIPLICATION SIGN} 1280")
    expect(images.nth(1)).to_contain_text("JPEG")
    expect(images.nth(2)).to_contain_text("HTTP_ERROR")
    expect(images.nth(2)).to_contain_text("404")
    expect(page.locator(".store-errors")).to_contain_text("RP04943")
    expect(page.locator(".visit").nth(0)).to_contain_text("NIRMAL PAN GHAR")
    expect(page.locator(".visit").nth(0)).to_contain_text("7100015")
    expect(page.locator(".thumb").nth(0)).to_have_js_property("naturalWidth", 640)
    retry = page.get_by_role("button", name="Retry failed images")
    expect(retry).to_have_count(1 if schema_has("retryJob") else 0)
    screenshot(page, "job")
    if schema_has("retryJob"):
        retry.click()
        expect(page.locator("#status")).to_have_text("Retry failed images: done")
        expect(page.locator(".summary")).to_contain_text("FAILED")
        expect(images.nth(2)).to_contain_text("HTTP_ERROR")


@pytest.fixture
def slow_server() -> Iterator[str]:
    yield from run_live_server(processing_delay="20")


@pytest.mark.browser
@pytest.mark.skipif(not schema_has("cancelJob"), reason="no cancelJob yet")
def test_running_job_is_cancelled_from_its_page(
    browser: Browser, slow_server: str, image_server: str
) -> None:
    context = browser.new_context(base_url=slow_server)
    page = context.new_page()
    url = f"{image_server}/png_gray_coins_384x303.png"

    submit_through_page(page, rest_job(("RP00010", [url, url, url])))
    page.get_by_role("button", name="Cancel job").click()

    expect(page.locator(".summary")).to_contain_text("CANCELLED")
    bar = page.locator(".summary [role='progressbar']")
    expect(bar).to_have_attribute("aria-valuetext", re.compile("3 cancelled"))
    expect(page.get_by_role("button", name="Cancel job")).to_have_count(0)
    context.close()


@pytest.fixture
def secure_server() -> Iterator[str]:
    yield from run_live_server(auth_required=True, admin_token=ADMIN_TOKEN)


@pytest.mark.browser
def test_token_is_asked_once_and_kept_for_the_session_only(
    browser: Browser, secure_server: str
) -> None:
    context = browser.new_context(base_url=secure_server)
    page = context.new_page()
    token = page.get_by_role("textbox", name="Token")

    page.goto("/dashboard#/stores")
    token.fill("not-a-token")
    page.get_by_role("button", name="Use this token").click()
    expect(page.locator("#token-error")).to_contain_text("not accepted")
    screenshot(page, "token")
    token.fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Use this token").click()
    expect(page.locator("tbody tr").first).to_be_visible()
    page.get_by_role("link", name="Jobs", exact=True).click()
    expect(page.locator("#queue-depth")).to_have_text("0")

    assert page.evaluate("sessionStorage.getItem('imagejobs.token')") == ADMIN_TOKEN
    assert page.evaluate("localStorage.length") == 0
    assert context.cookies() == []
    expect(page.locator("#token-dialog")).to_be_hidden()
    context.close()


@pytest.mark.browser
def test_user_errors_show_beside_the_fields_they_name(page: Page) -> None:
    job = json.dumps(
        {
            "count": 2,
            "visits": [
                {
                    "store_id": "RP00010",
                    "image_url": [
                        "ftp://example.com/a.jpg",
                        "https://example.com/b.jpg",
                    ],
                    "visit_time": "",
                }
            ],
        }
    )
    page.goto("/dashboard#/submit")

    page.get_by_label("Job (JSON)").fill("{not json")
    page.get_by_role("button", name="Submit job").click()
    expect(page.locator("#job-json-error")).to_contain_text("not valid JSON")
    page.get_by_label("Job (JSON)").fill(job)
    page.get_by_role("button", name="Submit job").click()

    problems = page.locator(".problems")
    field = lambda path: problems.locator(f'li[data-field="{path}"]')  # noqa: E731
    expect(problems.get_by_role("heading")).to_contain_text("problems to fix")
    expect(field("visits[0].image_url[0]")).to_contain_text("INVALID_URL")
    expect(field("visits[0].image_url[1]")).not_to_contain_text("INVALID_URL")
    expect(field("visits[0].visit_time")).to_contain_text("MISSING_FIELD")
    expect(field("count")).to_contain_text("COUNT_MISMATCH")
    assert "#/submit" in page.url
    screenshot(page, "submit")


@pytest.mark.browser
def test_jobs_filter_by_status_and_store(
    page: Page, server: str, image_server: str
) -> None:
    good = f"{image_server}/png_gray_coins_384x303.png"
    failed_id = submit_through_page(page, rest_job(("RP00004", [f"{good}.gone"])))
    done_id = submit_through_page(page, rest_job(("RP00010", [good])))
    page.goto("/dashboard#/jobs")
    for job_id in (failed_id, done_id):
        expect(progress_of(page, job_id)).to_have_attribute("aria-valuenow", "100")

    page.get_by_label("Store id").fill("RP00010")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator(f'tr[data-job-id="{done_id}"]')).to_be_visible()
    page.get_by_role("link", name="Clear").click()
    page.get_by_label("Status").select_option("FAILED")
    page.get_by_role("button", name="Filter").click()

    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator(f'tr[data-job-id="{failed_id}"]')).to_be_visible()
    assert "status=FAILED" in page.url
    screenshot(page, "jobs-filtered")


@pytest.mark.browser
def test_stores_are_searchable_by_name_and_area(page: Page) -> None:
    page.goto("/dashboard#/stores")

    page.get_by_label("Id or name").fill("pan ghar")
    page.get_by_label("Area code").fill("7100015")
    page.keyboard.press("Enter")

    expect(page.locator("tbody tr", has_text="RP00010")).to_contain_text(
        "NIRMAL PAN GHAR"
    )
    screenshot(page, "stores")


@pytest.mark.browser
def test_dashboard_fits_a_phone(page: Page, image_server: str) -> None:
    url = f"{image_server}/png_palette_debian_logo_256x256.png"
    job_id = submit_through_page(page, rest_job(("RP00010", [url])))
    page.set_viewport_size({"width": 375, "height": 740})

    page.get_by_role("link", name="Jobs", exact=True).click()
    expect(progress_of(page, job_id)).to_have_attribute("aria-valuenow", "100")

    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    screenshot(page, "phone")


@pytest.mark.browser
def test_dashboard_works_by_keyboard(page: Page) -> None:
    page.goto("/dashboard")
    expect(page.locator("#stats-title")).to_be_visible()

    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    for _ in range(3):
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Submit a job")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Job (JSON)")).to_be_focused()


@pytest.mark.browser
def test_chart_and_queue_depth_come_from_stats(page: Page, image_server: str) -> None:
    submit_through_page(
        page, rest_job(("RP00010", [f"{image_server}/png_1x1_palette.png"]))
    )
    page.goto("/dashboard#/jobs")

    expect(page.locator("#queue-depth")).to_have_text(re.compile(r"^\d+$"))
    chart = page.locator("svg.chart")
    expect(chart).to_have_attribute("aria-label", re.compile("1 done and 0 failed"))
    assert chart.locator("rect.bar-done").count() == 60


def test_dashboard_needs_no_network_beyond_the_service() -> None:
    for path in static_folder().iterdir():
        text = path.read_text()
        assert not re.search(r'(?:src|href)="https?:', text), path.name
        assert not re.search(r'@import|url\(\s*["\']?https?:', text), path.name
        assert 'fetch("http' not in text, path.name


def test_http_client_sees_the_page_from_a_live_server(live_server: str) -> None:
    response = httpx.get(f"{live_server}/", follow_redirects=True)

    assert response.status_code == 200
    assert '<main id="main"' in response.text
