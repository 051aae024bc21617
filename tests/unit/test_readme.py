"""The README's Python API example runs as written, and its two commands stay its opening."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def _section(title: str) -> str:
    start = README.index(f"## {title}")
    end = README.find("\n## ", start + 1)
    return README[start:end if end > 0 else None]


def test_python_api_example_runs(capsys):
    blocks = re.findall(r"```python\n(.*?)```", _section("Python API"), flags=re.S)
    assert len(blocks) == 1
    namespace: dict = {}
    exec(compile(blocks[0], "README.md: Python API", "exec"), namespace)
    out = capsys.readouterr().out
    assert "dense mixture falls" in out and "certified robust at τ = 0.2:" in out
    run = namespace["run"]
    assert {r["model"] for r in run.results} == {"ideal", "clean", "adversarial"}
    assert {r["model"] for r in namespace["rows"]} == {"clean", "adversarial", "linear_oracle"}


def test_readme_opens_with_the_two_commands():
    first = re.search(r"```bash\n(.*?)```", README, flags=re.S).group(1).strip().splitlines()
    assert len(first) == 2
    assert first[0].endswith("fpsim verify --out runs/verify") or "fpsim verify" in first[0]
    assert "pytest" in first[1]
