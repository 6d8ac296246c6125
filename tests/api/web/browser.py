"""Debian's Chromium driven by Playwright, and a seeded world served by real uvicorn.

The browser is the machine's ``/usr/bin/chromium`` (scripts/system-deps installs it),
never a browser Playwright downloads: test machines have no general internet access.
It runs headless with a fresh profile and without background networking, so a test
talks to nothing but the app under test.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import BrowserContext, ViewportSize, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
# The smallest desktop screen.
VIEWPORT = ViewportSize(width=1280, height=800)
# Screenshots a person can look at after the run (build/ is not committed).
SCREENSHOTS = Path(__file__).resolve().parents[3] / "build" / "screenshots"


@contextmanager
def chromium(profile: Path) -> Iterator[BrowserContext]:
    """A headless Chromium with its own profile directory ``profile``."""
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=list(ARGS),
            viewport=VIEWPORT,
            locale="en-GB",
        )
        try:
            yield context
        finally:
            context.close()


def screenshot(context: BrowserContext, name: str) -> Path:
    """Save the context's current page as ``build/screenshots/<name>.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    context.pages[0].screenshot(path=str(path), full_page=True)
    return path
