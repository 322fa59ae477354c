"""The documentation a newcomer reads: a short README whose results cannot drift from the benchmarks' JSON."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_the_results_page_and_the_readme_table_are_what_the_json_says() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "results_page.py"), "--check"], capture_output=True)
    assert done.returncode == 0, done.stderr.decode()


def test_the_readme_is_a_five_minute_read_whose_links_resolve() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 200, "keep the README about 200 lines; move detail to docs/"
    for link in re.findall(r"\]\(([^)#]+)\)", readme):
        if not link.startswith("http"):
            assert (ROOT / link).exists(), f"README links to {link}, which does not exist"
    assert "make run" in readme and "make test" in readme


def test_every_docs_page_links_to_pages_that_exist() -> None:
    for page in (ROOT / "docs").rglob("*.md"):
        for link in re.findall(r"\]\(([^)#]+)\)", page.read_text()):
            if not link.startswith("http"):
                assert (page.parent / link).resolve().exists(), f"{page.relative_to(ROOT)} links to {link}"
