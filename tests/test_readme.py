"""The README's two quick-start commands are what CI runs."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _bash_blocks(text: str) -> list[str]:
    blocks, inside, current = [], False, []
    for line in text.splitlines():
        if line.startswith("```bash"):
            inside, current = True, []
        elif line.startswith("```") and inside:
            inside = False
            blocks.append("\n".join(current).strip())
        elif inside:
            current.append(line)
    return blocks


def test_ci_runs_the_readme_test_command():
    quick_start = _bash_blocks((ROOT / "README.md").read_text())[:2]
    assert "genotx benchmark" in quick_start[0]
    assert "pytest" in quick_start[1]
    assert quick_start[1] in (ROOT / ".ci" / "run").read_text()


def _python_blocks(text: str) -> list[str]:
    blocks, inside, current = [], False, []
    for line in text.splitlines():
        if line.startswith("```python"):
            inside, current = True, []
        elif line.startswith("```") and inside:
            inside = False
            blocks.append("\n".join(current))
        elif inside:
            current.append(line)
    return blocks


@pytest.mark.slow
def test_the_readme_python_block_runs():
    (block,) = _python_blocks((ROOT / "README.md").read_text())
    namespace: dict = {}
    exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    assert namespace["scores"]["pearson"] > namespace["record"].metrics["pearson"]  # a model beats a dummy
    mean, std = namespace["summary"]["pearson"]
    assert std >= 0 and mean == mean
