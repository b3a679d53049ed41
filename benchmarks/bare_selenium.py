"""Baseline: the least Selenium needs to read the usage page — launch, open, wait, read, quit.

Same browser, driver, profile and headless flags as consolescrape, none of its work.
Usage: python benchmarks/bare_selenium.py URL PROFILE_DIR   (a profile already logged in)
"""

from __future__ import annotations

import os
import shutil
import sys

from selenium.webdriver import Chrome, ChromeOptions
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def main() -> None:
    url, profile = sys.argv[1], sys.argv[2]
    options = ChromeOptions()
    for flag in (
        "--headless=new",
        f"--user-data-dir={profile}",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
    ):
        options.add_argument(flag)
    if os.geteuid() == 0:
        options.add_argument("--no-sandbox")
    driver = Chrome(options=options, service=Service(executable_path=shutil.which("chromedriver")))
    try:
        driver.get(url)
        # Polled as often as consolescrape polls (Selenium's default is every 0.5 s).
        WebDriverWait(driver, 30, poll_frequency=0.1).until(
            lambda d: "% used" in d.find_element(By.TAG_NAME, "body").text
        )
        text = driver.find_element(By.TAG_NAME, "body").text
        assert "% used" in text
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
