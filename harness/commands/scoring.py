"""`fma-harness validate | score | submit`: check, score and create challenge submission CSVs.

Exit codes: 0 for a valid file (``validate``) or a scored one (``score``), 2 for an invalid
submission, 1 for any other user error (a missing test folder, a bad answer key).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from harness.commands import options

MAX_SHOWN = 20
EXIT_INVALID = 2

VALIDATE_EPILOG = """Examples:

  fma-harness validate submissions/uniform.csv --test-dir data/synthetic/crowdai_fma_test

  fma-harness validate my.csv --ids test_ids.txt --json
"""

SCORE_EPILOG = """Examples:

  fma-harness score submissions/uniform.csv --answers data/synthetic/crowdai_fma_test_answers.csv

  fma-harness score my.csv --answers answers.csv --all --json
"""

SUBMIT_EPILOG = """Examples:

  fma-harness submit --uniform --test-dir data/synthetic/crowdai_fma_test

  fma-harness submit --uniform --test-dir ~/fma/crowdai_fma_test --out uniform.csv
"""

SubmissionArg = Annotated[Path, typer.Argument(help="Submission CSV to check.")]
TestDirOpt = Annotated[Path | None, options.test_dir()]
IdsOpt = Annotated[
    Path | None, typer.Option("--ids", help="File of expected ids, one per line (or file_id CSV).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object for machines.")]

METRIC_NAMES = {
    "log_loss": "log loss",
    "macro_f1": "macro F1",
    "accuracy": "accuracy",
    "top3_accuracy": "top-3 accuracy",
    "ece": "ECE (15 bins)",
}


def _exit_invalid() -> None:
    # SystemExit rather than typer.Exit: harness.cli.main runs the app with
    # standalone_mode=False, where click returns typer.Exit's code instead of exiting with it.
    sys.exit(EXIT_INVALID)


def _print_problems(problems: list, path: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    table = Table(title=f"{path}: {len(problems)} problem(s)", title_justify="left")
    table.add_column("line", justify="right")
    table.add_column("problem")
    table.add_column("reason")
    for problem in problems[:MAX_SHOWN]:
        table.add_row(str(problem.line or "-"), problem.kind, problem.reason)
    console.print(table)
    if len(problems) > MAX_SHOWN:
        console.print(f"... and {len(problems) - MAX_SHOWN} more problem(s)")


def _expected_ids(test_dir: Path | None, ids: Path | None) -> list[str] | None:
    from harness.data.challenge import ids_from_test_dir, read_ids_file

    if test_dir is not None and ids is not None:
        raise typer.BadParameter("pass either --test-dir or --ids, not both")
    if test_dir is not None:
        return ids_from_test_dir(test_dir)
    return read_ids_file(ids) if ids is not None else None


def _print_scores(scores: dict, *, show_all: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{scores['n_tracks']} tracks, 16 genres", title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    shown = METRIC_NAMES if show_all else ("log_loss", "macro_f1")
    for key in shown:
        table.add_row(METRIC_NAMES[key], f"{scores[key]:.4f}")
    Console(highlight=False).print(table)


def validate(
    submission: SubmissionArg,
    test_dir: TestDirOpt = None,
    ids: IdsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check a submission CSV as the challenge grader would (exit 0 valid, 2 invalid)."""
    from harness.scoring.submission.validate import validate_submission

    problems = validate_submission(submission, expected_ids=_expected_ids(test_dir, ids))
    if as_json:
        typer.echo(json.dumps(_invalid_payload(submission, problems), indent=2))
    elif problems:
        _print_problems(problems, submission)
    else:
        typer.echo(f"OK: {submission} is a valid submission")
    if problems:
        _exit_invalid()


def _invalid_payload(submission: Path, problems: list) -> dict:
    return {
        "path": str(submission),
        "valid": not problems,
        "n_problems": len(problems),
        "problems": [p.to_dict() for p in problems],
    }


def score(
    submission: SubmissionArg,
    answers: Annotated[
        Path, typer.Option("--answers", help="Answer key CSV with header file_id,genre.")
    ],
    show_all: Annotated[
        bool, typer.Option("--all", help="Also accuracy, top-3 accuracy and ECE.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Validate a submission against an answer key, then print log loss and macro F1."""
    import warnings

    from harness.scoring.submission.score import score_submission
    from harness.scoring.submission.validate import SubmissionError

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            scores = score_submission(submission, answers)
    except SubmissionError as exc:
        if as_json:
            typer.echo(json.dumps(_invalid_payload(submission, exc.problems)))
        else:
            _print_problems(exc.problems, submission)
        _exit_invalid()
    if as_json:
        typer.echo(json.dumps({"path": str(submission), "valid": True, **scores}))
        return
    _print_scores(scores, show_all=show_all)
    for warning in caught:
        typer.echo(f"note: {warning.message}", err=True)


def submit(
    test_dir: Annotated[Path, options.test_dir()],
    uniform: Annotated[
        bool, typer.Option("--uniform", help="Write the uniform sample submission (1/16).")
    ] = False,
    out: Annotated[
        Path | None, options.out("Output CSV [default: submissions/uniform.csv]")
    ] = None,
) -> None:
    """Write a sample submission for a test folder (model submissions come from `run`)."""
    from harness.data.challenge import challenge_mp3s, check_challenge_names
    from harness.data.layout import DEFAULT_SUBMISSIONS_DIR
    from harness.errors import ParameterError
    from harness.run_layout import SubmissionLayout
    from harness.scoring.submission.write import uniform_submission

    if not uniform:
        raise ParameterError(
            "only --uniform is available here; model submissions are written by `fma-harness run`"
        )
    path = out if out is not None else SubmissionLayout(DEFAULT_SUBMISSIONS_DIR).uniform_csv
    clips = challenge_mp3s(test_dir)
    check_challenge_names(clips)
    ids = [clip.stem for clip in clips]
    uniform_submission(ids, path)
    print(f"wrote {path} ({len(ids)} rows, uniform 1/16)", file=sys.stdout)


def register(app: typer.Typer) -> None:
    """Add `validate`, `score` and `submit` to the CLI."""
    app.command(epilog=VALIDATE_EPILOG)(validate)
    app.command(epilog=SCORE_EPILOG)(score)
    app.command(epilog=SUBMIT_EPILOG)(submit)
