"""The README's two quick-start commands are what CI runs."""

from pathlib import Path

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
