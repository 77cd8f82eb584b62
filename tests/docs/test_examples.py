"""Every example of README.md and docs/ runs, or, where marked, parses (doc_examples.py).

The pages' examples are written to be cheap: a synthetic set of 80 clips of 5 s and the
quick preset. Each page runs in its own working directory; a page's blocks run in order there,
so that a later block reads what an earlier one wrote. The marked exceptions (a real FMA
download, a GPU, a cluster, minutes of training, ``make run``/``make test`` themselves) have
each ``fma-harness`` command parsed by the command line, so an option that does not exist
fails there too.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from doc_examples import (
    PARSE_ONLY,
    RUN,
    extract,
    harness_commands,
    parse_problems,
    run_example,
)

REPO = Path(__file__).resolve().parents[2]
PAGES = ["README.md", *sorted(str(p.relative_to(REPO)) for p in (REPO / "docs").rglob("*.md"))]


def page_examples(page: str):
    return extract((REPO / page).read_text(), page)


RUN_PAGES = [page for page in PAGES if any(e.mode == RUN for e in page_examples(page))]


def test_every_page_is_found_and_holds_examples():
    assert "docs/tutorial.md" in RUN_PAGES and "docs/how-to/own-dataset.md" in RUN_PAGES
    assert "README.md" in RUN_PAGES
    runnable = [e for page in PAGES for e in page_examples(page) if e.mode == RUN]
    assert len(runnable) >= 15
    tutorial = page_examples("docs/tutorial.md")
    assert tutorial and all(e.mode == RUN for e in tutorial)


@pytest.mark.parametrize("page", PAGES)
def test_every_command_of_a_page_parses(page):
    problems = [p for example in page_examples(page) for p in parse_problems(example)]
    assert not problems, "\n".join(problems)


@pytest.mark.slow
@pytest.mark.parametrize("page", RUN_PAGES)
def test_the_examples_of_a_page_run(page, tmp_path):
    for example in [e for e in page_examples(page) if e.mode == RUN]:
        failure = run_example(example, tmp_path)
        assert not failure, failure


SNIPPET = """# A page

```bash
fma-harness data synth --root demo --n-tracks 80
```

<!-- example: parse-only (needs a real FMA download) -->
```bash
fma-harness run --root ~/fma --subset medium --modles mfcc-logreg   # a typo
for s in 0 1; do fma-harness run --seed $s --run-id split$s; done
```

<!-- example: parse-only (needs a real FMA download) -->
```python
from harness import
```

<!-- example: run.toml -->
```toml
models = ["mfcc-logreg"]
[params.mfcc-logreg]
not_a_setting = 1
```

```text
fma-harness never --run
```
"""


def test_a_wrong_option_or_setting_in_an_example_is_found():
    examples = extract(SNIPPET, "snippet.md")
    assert [(e.lang, e.mode) for e in examples] == [
        ("bash", RUN),
        ("bash", PARSE_ONLY),
        ("python", PARSE_ONLY),
        ("toml", "run.toml"),
    ]
    assert parse_problems(examples[0]) == []
    typo = parse_problems(examples[1])
    assert len(typo) == 1 and "--modles" in typo[0] and "snippet.md:8" in typo[0]
    assert harness_commands(examples[1].code)[1] == ["run", "--seed", "0", "--run-id", "split0"]
    assert parse_problems(examples[2]) and "snippet.md" in parse_problems(examples[2])[0]
    toml = parse_problems(examples[3])
    assert len(toml) == 1 and "not_a_setting" in toml[0]


def test_a_failing_example_fails_with_its_place(tmp_path):
    examples = extract("text\n\n```bash\nfma-harness validate --no-such-flag x.csv\n```\n", "p.md")
    failure = run_example(examples[0], tmp_path)
    assert failure.startswith("p.md:3: exit code 2") and "--no-such-flag" in failure
    ok = extract("```python\nprint('fine')\n```\n", "q.md")
    assert run_example(ok[0], tmp_path) == ""
