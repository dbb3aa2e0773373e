"""The two editions (ci, paper): the banner that links them, the status page's account of the
build, and the GitHub workflows that build and publish them (fast: no book is built)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from rob.book import build, editions
from test_cli import rob

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
PAPER_URL = "https://rob-book.github.io/robustness-book/paper/"
CI_URL = "https://rob-book.github.io/robustness-book/"


# -- the banner ----------------------------------------------------------------------------------

def test_banner_without_addresses_names_the_edition_and_links_nowhere():
    for scale in ("ci", "paper"):
        banner = editions.banner_html(scale, {})
        assert f"<strong>{scale} edition</strong>" in banner
        assert "<a " not in banner and "href" not in banner
        assert not banner.startswith("http")  # the theme would fetch such an announcement


def test_banner_links_to_the_other_edition_only():
    urls = {"ci": CI_URL, "paper": PAPER_URL}
    ci = editions.banner_html("ci", urls)
    assert re.findall(r'href="([^"]+)"', ci) == [PAPER_URL]
    assert "<strong>ci edition</strong>" in ci and "The paper edition</a>" in ci
    paper = editions.banner_html("paper", urls)
    assert re.findall(r'href="([^"]+)"', paper) == [CI_URL]
    assert "<strong>paper edition</strong>" in paper and "The ci edition</a>" in paper
    # the ci edition's own address alone gives the ci edition no link
    assert "href" not in editions.banner_html("ci", {"ci": CI_URL})


def test_banner_escapes_the_address():
    banner = editions.banner_html("ci", {"paper": 'https://x.org/a"b<c>'})
    assert 'href="https://x.org/a&quot;b&lt;c&gt;"' in banner


def test_edition_urls_from_options_and_environment():
    env = {"ROB_EDITION_URL_CI": CI_URL, "ROB_EDITION_URL_PAPER": " "}
    assert editions.edition_urls(environ=env) == {"ci": CI_URL}
    assert editions.edition_urls(paper=PAPER_URL, environ=env) == {"ci": CI_URL, "paper": PAPER_URL}
    assert editions.edition_urls(ci="", environ=env) == {}  # an empty option switches the link off
    assert editions.edition_urls(environ={}) == {}


@pytest.mark.parametrize("url", ["paper/", "/paper/", "ftp://x.org/p", "https://", "https://x.org/a b",
                                 "javascript:alert(1)"])
def test_edition_url_must_be_absolute_http(url):
    with pytest.raises(editions.EditionError, match="absolute http"):
        editions.edition_urls(paper=url, environ={})


def test_set_banner_in_the_staged_config(tmp_path):
    config = tmp_path / "_config.yml"
    config.write_text((ROOT / "_config.yml").read_text())
    banner = editions.set_banner(config, "paper", {"ci": CI_URL})
    data = yaml.safe_load(config.read_text())
    assert data["html"]["announcement"] == banner
    original = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert {k: v for k, v in data["html"].items() if k != "announcement"} == original["html"]
    assert data["sphinx"] == original["sphinx"]
    # Jupyter Book hands html.announcement to the theme, which shows it on top of every page
    from jupyter_book.config import yaml_to_sphinx

    assert yaml_to_sphinx(data)[0]["html_theme_options"]["announcement"] == banner


def test_build_rejects_a_bad_edition_url_at_once(repo_root):
    res = rob("build", "--edition-url-paper", "paper/", cwd=repo_root)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "--edition-url-paper" in lines[0], res.stderr
    assert "executing" not in res.stderr


# -- the status page: scale, executor, workers ---------------------------------------------------

def _record(executor: str, workers: int | None, address: str | None = None) -> dict:
    return {"chapter": "regimes", "seed": 0, "scale": "paper", "runtime_s": 12.0, "device": "cpu",
            "git_commit": "abc1234", "execution": {"executor": executor, "workers": workers, "address": address},
            "checks": [{"id": "c1", "description": "d", "value": 1.0, "target": "1", "tolerance": "0.1",
                        "passed": True}]}


@pytest.mark.parametrize("spec, record, command, words", [
    (None, _record("serial", 1), "rob build --scale paper --seed 0",
     ["serially", "executor `serial`", "1 worker"]),
    ("local:2", _record("local", 2), "rob build --scale paper --seed 0 --workers 2",
     ["local Dask cluster", "executor `local`", "2 workers"]),
    ("tcp://10.0.0.5:8786", _record("scheduler", 8, "tcp://10.0.0.5:8786"),
     "rob build --scale paper --seed 0 --scheduler tcp://10.0.0.5:8786",
     ["`tcp://10.0.0.5:8786`", "executor `scheduler`", "8 workers"]),
])
def test_status_page_says_scale_executor_and_workers(spec, record, command, words):
    text = build.status_markdown([record], {"regimes": "/notebooks/regimes"}, "paper", 0, "abc1234",
                                 executor_spec=spec)
    assert "at scale `paper`" in text
    assert f"Built with `{command}`." in text
    sentence = next(line for line in text.splitlines() if line.startswith("Sweeps executed"))
    for word in words:
        assert word in sentence, (word, sentence)


def test_build_command_student():
    assert build.build_command("ci", 3, "serial", student=True) == "rob build --scale ci --seed 3 --student"


# -- the workflows -------------------------------------------------------------------------------

def _workflow(name: str) -> dict:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as True
    return data


def _runs(data: dict) -> str:
    return "\n".join(step.get("run", "") for job in data["jobs"].values() for step in job.get("steps", []))


def _uses(data: dict) -> list[str]:
    return [step.get("uses", "") for job in data["jobs"].values() for step in job.get("steps", [])]


def test_paper_workflow_builds_the_paper_edition_weekly_and_on_demand():
    paper = _workflow("paper.yml")
    assert "workflow_dispatch" in paper["on"]
    (cron,) = [entry["cron"] for entry in paper["on"]["schedule"]]
    minute, hour, day, month, weekday = cron.split()
    assert day == "*" and month == "*" and weekday not in ("*", ""), "not weekly"
    runs = _runs(paper)
    assert re.search(r"rob build --scale paper --workers auto --edition-url-ci \S+", runs)
    assert "tests/test_book_browser.py" in runs
    uploads = [step for job in paper["jobs"].values() for step in job["steps"]
               if step.get("uses", "").startswith("actions/upload-artifact")]
    assert any(step["with"]["name"] == "paper-edition" and step["with"]["path"] == "_build/html" for step in uploads)
    assert not any(u.startswith("actions/deploy-pages") for u in _uses(paper)), "only book.yml deploys"


def test_book_workflow_publishes_both_editions():
    book, paper = _workflow("book.yml"), _workflow("paper.yml")
    assert book["on"]["push"]["branches"] == ["main"]
    assert book["on"]["workflow_run"]["workflows"] == [paper["name"]]
    assert book["permissions"]["actions"] == "read"
    runs = _runs(book)
    assert "make book" in runs
    assert "--name paper-edition" in runs and "ROB_EDITION_URL_PAPER=" in runs and "/paper/" in runs
    # the paper edition joins the site after the ci edition's browser test, before the upload
    steps = [s.get("run", "") + s.get("uses", "") for s in book["jobs"]["build"]["steps"]]
    order = [next(i for i, s in enumerate(steps) if key in s)
             for key in ("--name paper-edition", "make book", "test_book_browser", "_build/html/paper",
                         "upload-pages-artifact")]
    assert order == sorted(order), steps
    assert "actions/deploy-pages@v4" in _uses(book)
    assert book["concurrency"]["group"] == "pages"
