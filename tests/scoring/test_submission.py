"""Submission CSVs: writer, validator (one crafted bad file per rejection), scorer and CLI."""

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.data.challenge import ids_from_test_dir, read_ids_file
from harness.data.taxonomy import CHALLENGE_GENRES
from harness.errors import DataError, ParameterError
from harness.scoring.submission.score import score_submission
from harness.scoring.submission.validate import (
    SUBMISSION_HEADER,
    SubmissionError,
    read_submission,
    validate_submission,
)
from harness.scoring.submission.write import uniform_submission, write_submission

HEADER_LINE = (
    "file_id,Blues,Classical,Country,Easy Listening,Electronic,Experimental,Folk,Hip-Hop,"
    "Instrumental,International,Jazz,Old-Time / Historic,Pop,Rock,Soul-RnB,Spoken"
)
IDS = ["id0", "id1", "id2", "id3"]
runner = CliRunner()


def _proba(seed=0, n=len(IDS), c=16):
    return np.random.default_rng(seed).dirichlet(np.ones(c), size=n)


@pytest.fixture
def good(tmp_path):
    """A valid 4-row submission; returns its path."""
    return write_submission(IDS, _proba(), CHALLENGE_GENRES, tmp_path / "good.csv")


@pytest.fixture
def test_dir(tmp_path):
    """A challenge-style test folder of empty mp3 files named by IDS."""
    folder = tmp_path / "crowdai_fma_test"
    folder.mkdir()
    for fid in IDS:
        (folder / f"{fid}.mp3").write_bytes(b"")
    return folder


def _answers(tmp_path, genres=("Rock", "Pop", "Jazz", "Spoken")):
    path = tmp_path / "answers.csv"
    rows = "".join(f"{fid},{g}\n" for fid, g in zip(IDS, genres, strict=True))
    path.write_text("file_id,genre\n" + rows)
    return path


# --- writer ------------------------------------------------------------------------------


def test_written_file_is_exact_utf8_lf_and_round_trips(good):
    raw = good.read_bytes()
    assert raw.startswith(HEADER_LINE.encode() + b"\n")
    assert ",".join(SUBMISSION_HEADER) == HEADER_LINE
    assert not raw.startswith(b"\xef\xbb\xbf") and b"\r" not in raw and raw.endswith(b"\n")
    parsed = read_submission(good, expected_ids=IDS)
    assert parsed.problems == [] and parsed.ids == IDS
    expected = _proba() / _proba().sum(axis=1, keepdims=True)
    assert np.array_equal(parsed.values, expected)  # shortest round-trip repr: exact
    first_value = raw.decode().splitlines()[1].split(",")[1]
    assert len(first_value.lstrip("0.").replace("e-", "")) >= 10  # >= 10 significant digits
    assert not list(good.parent.glob(".*.tmp"))  # the temporary file is gone


def test_subset_of_classes_gets_floor_and_renormalised_rows(tmp_path):
    classes = ["Rock", "Electronic", "Pop"]  # any order, 3 of 16
    proba = np.array([[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])
    path = write_submission(["a", "b"], proba, classes, tmp_path / "sub" / "s.csv")
    values = read_submission(path).values
    np.testing.assert_allclose(values.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    rock, electronic, blues = (CHALLENGE_GENRES.index(g) for g in ("Rock", "Electronic", "Blues"))
    assert values[0, rock] == values[0, electronic] > 0.49
    assert 0 < values[0, blues] < 1e-3  # unseen genre: small floor, finite log loss
    assert values[1, CHALLENGE_GENRES.index("Rock")] == 0.0  # a seen genre keeps its zero


def test_write_replaces_an_existing_file_atomically(good):
    write_submission(IDS, _proba(1), CHALLENGE_GENRES, good)
    assert np.allclose(read_submission(good).values, _proba(1) / _proba(1).sum(1, keepdims=True))


@pytest.mark.parametrize(
    ("ids", "proba", "classes", "match"),
    [
        (
            ["a"],
            [[1.0]],
            ["Rok"],
            "'Rok' is not one of the 16 challenge genres. Did you mean 'Rock'",
        ),
        (["a", "a"], [[1.0], [1.0]], ["Rock"], r"file_ids\[1\] 'a' repeats file_ids\[0\]"),
        (["a,b"], [[1.0]], ["Rock"], "commas"),
        (["a"], [[np.nan]], ["Rock"], "row 0, column 0 is nan"),
        (["a", "b"], [[1.0], [0.0]], ["Rock"], "row 1 is all zeros"),
        (["a"], [[1.0], [1.0]], ["Rock"], "1 file_ids but proba has 2 rows"),
        (["a"], [[0.5, 0.5]], ["Rock", "Rock"], "repeated"),
    ],
)
def test_write_rejects_bad_arguments(tmp_path, ids, proba, classes, match):
    with pytest.raises(ParameterError, match=match):
        write_submission(ids, proba, classes, tmp_path / "x.csv")
    assert not (tmp_path / "x.csv").exists()


# --- crafted bad files: each rejected with a one-line reason naming its line -------------


def _lines(good):
    return good.read_text().splitlines()


def _join(lines):
    return "\n".join(lines) + "\n"


def _set_cell(lines, line_no, genre, value):
    fields = lines[line_no - 1].split(",")
    fields[SUBMISSION_HEADER.index(genre)] = value
    return [*lines[: line_no - 1], ",".join(fields), *lines[line_no:]]


def _drop_column(lines, index):
    return [",".join(f for i, f in enumerate(ln.split(",")) if i != index) for ln in lines]


def _halve_row(lines, line_no):
    fields = lines[line_no - 1].split(",")
    halved = [fields[0], *(repr(float(v) / 2) for v in fields[1:])]
    return [*lines[: line_no - 1], ",".join(halved), *lines[line_no:]]


BAD_FILES = {
    # name: (make content from the good lines, line, kind, words in the reason)
    "wrong_header": (
        lambda ls: _join([ls[0].replace("Hip-Hop", "HipHop"), *ls[1:]]),
        1,
        "header",
        "missing column(s) 'Hip-Hop'; unexpected column(s) 'HipHop'",
    ),
    "semicolon": (lambda ls: _join([ln.replace(",", ";") for ln in ls]), 1, "separator", "';'"),
    "bom": (lambda ls: b"\xef\xbb\xbf" + _join(ls).encode(), 1, "bom", "byte order mark"),
    "missing_id": (lambda ls: _join([ls[0], ls[1], ls[3], ls[4]]), 0, "missing_id", "'id1'"),
    "duplicate_id": (lambda ls: _join([*ls, ls[2]]), 6, "duplicate_id", "'id1' (first on line 3)"),
    "unknown_id": (
        lambda ls: _join([*ls[:3], ls[3].replace("id2", "zz9"), ls[4]]),
        4,
        "unknown_id",
        "'zz9'",
    ),
    "nan": (lambda ls: _join(_set_cell(ls, 3, "Rock", "nan")), 3, "not_finite", "Rock is 'nan'"),
    "inf": (lambda ls: _join(_set_cell(ls, 2, "Pop", "inf")), 2, "not_finite", "Pop is 'inf'"),
    "negative": (
        lambda ls: _join(_set_cell(ls, 4, "Jazz", "-0.1")),
        4,
        "out_of_range",
        "Jazz is -0.1, outside [0, 1]",
    ),
    "above_one": (
        lambda ls: _join(_set_cell(ls, 5, "Blues", "1.2")),
        5,
        "out_of_range",
        "Blues is 1.2, outside [0, 1]",
    ),
    "sum_half": (lambda ls: _join(_halve_row(ls, 3)), 3, "row_sum", "sums to 0.5"),
    "extra_column": (
        lambda ls: _join([ls[0] + ",Other", *(ln + ",0" for ln in ls[1:])]),
        1,
        "header",
        "unexpected column(s) 'Other'",
    ),
    "missing_column": (lambda ls: _join(_drop_column(ls, 16)), 1, "header", "'Spoken'"),
    "empty_file": (lambda ls: "", 1, "empty", "empty"),
    "non_numeric": (
        lambda ls: _join(_set_cell(ls, 2, "Folk", "abc")),
        2,
        "not_number",
        "Folk is 'abc', not a number",
    ),
    "empty_cell": (
        lambda ls: _join(_set_cell(ls, 2, "Folk", "")),
        2,
        "not_number",
        "Folk is empty",
    ),
    "blank_line_in_middle": (lambda ls: _join([*ls[:2], "", *ls[2:]]), 3, "empty_line", "empty"),
    "short_row": (lambda ls: _join([*ls[:4], "id3,0.5,0.5"]), 5, "field_count", "3 fields"),
    "empty_id": (lambda ls: _join([*ls[:4], ls[4].replace("id3", "")]), 5, "empty_id", "empty"),
    "old_mac_line_endings": (lambda ls: "\r".join(ls) + "\r", 1, "line_ending", "carriage return"),
    "not_utf8": (
        lambda ls: _join(ls).encode().replace(b"id2", b"id\xe92"),
        4,
        "encoding",
        "0xe9 is not UTF-8",
    ),
    "header_only": (lambda ls: _join(ls[:1]), 0, "no_rows", "no rows"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_crafted_bad_file_is_rejected_naming_the_line(good, tmp_path, name):
    make, line, kind, words = BAD_FILES[name]
    content = make(_lines(good))
    path = tmp_path / f"{name}.csv"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", newline="")
    problems = validate_submission(path, expected_ids=IDS)
    assert problems, name
    first = problems[0]
    assert (first.line, first.kind) == (line, kind), problems
    assert words in first.reason
    assert "\n" not in str(first)
    assert str(first).startswith(f"line {line}: " if line else "file: ")


def test_unknown_id_also_reports_the_id_it_replaced(good, tmp_path):
    path = tmp_path / "u.csv"
    path.write_text(_join([ln.replace("id2", "zz9") for ln in _lines(good)]))
    kinds = [(p.line, p.kind) for p in validate_submission(path, expected_ids=IDS)]
    assert kinds == [(4, "unknown_id"), (0, "missing_id")]


def test_without_expected_ids_only_the_format_is_checked(good, tmp_path):
    path = tmp_path / "m.csv"
    path.write_text(_join(_lines(good)[:3]))
    assert validate_submission(path) == []
    path.write_text(_join(_lines(good)[:1]))
    assert [p.kind for p in validate_submission(path)] == ["no_rows"]


@pytest.mark.parametrize(
    "transform",
    [
        pytest.param(lambda t: t.replace("\n", "\r\n"), id="crlf"),
        pytest.param(lambda t: t.rstrip("\n"), id="no_final_newline"),
        pytest.param(lambda t: t + "\n\n", id="trailing_blank_lines"),
        pytest.param(lambda t: t.replace(",0.", ", 0."), id="spaces_before_numbers"),
        pytest.param(
            lambda t: t.replace("Old-Time / Historic", '"Old-Time / Historic"'),
            id="quoted_header_field",
        ),
    ],
)
def test_lenient_grader_accepts(good, tmp_path, transform):
    path = tmp_path / "lenient.csv"
    path.write_bytes(transform(good.read_text()).encode())
    assert validate_submission(path, expected_ids=IDS) == []


def test_missing_file_is_one_problem(tmp_path):
    problems = validate_submission(tmp_path / "nope.csv")
    assert [p.kind for p in problems] == ["unreadable"]


# --- expected ids, answers and scoring ---------------------------------------------------


def test_ids_from_test_dir_and_ids_file(test_dir, tmp_path):
    (test_dir / "notes.txt").write_text("x")
    assert ids_from_test_dir(test_dir) == IDS
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text("id1\n\nid0\n")
    assert read_ids_file(ids_file) == ["id1", "id0"]
    assert read_ids_file(_answers(tmp_path)) == IDS  # a file_id CSV works too
    ids_file.write_text("id1\nid1\n")
    with pytest.raises(DataError, match="line 2: id 'id1' repeats line 1"):
        read_ids_file(ids_file)
    with pytest.raises(DataError, match="does not exist"):
        ids_from_test_dir(tmp_path / "missing")


@pytest.mark.filterwarnings("ignore::harness.scoring.metrics.single.DegenerateInputWarning")
def test_uniform_submission_scores_ln16(tmp_path):
    path = uniform_submission(IDS, tmp_path / "u.csv")
    scores = score_submission(path, _answers(tmp_path))
    assert list(scores) == ["log_loss", "macro_f1", "accuracy", "top3_accuracy", "ece", "n_tracks"]
    assert scores["log_loss"] == math.log(16) and round(scores["log_loss"], 4) == 2.7726
    assert scores["n_tracks"] == 4


def test_score_matches_metrics_on_the_written_probabilities(good, tmp_path):
    from harness.scoring.metrics.single import evaluate

    answers = ["Rock", "Pop", "Jazz", "Spoken"]
    with pytest.warns(UserWarning):
        scores = score_submission(good, _answers(tmp_path, answers))
        expected = evaluate(answers, _proba(), labels=CHALLENGE_GENRES)
    assert {k: scores[k] for k in expected} == pytest.approx(expected, rel=1e-12)


def test_score_refuses_an_invalid_submission(good, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(_join(_set_cell(_lines(good), 3, "Rock", "nan")))
    with pytest.raises(SubmissionError, match="line 3") as info:
        score_submission(path, _answers(tmp_path))
    assert [p.kind for p in info.value.problems] == ["not_finite"]


def test_bad_answer_key_names_its_line(good, tmp_path):
    key = tmp_path / "key.csv"
    key.write_text("file_id,genre\nid0,Rock\nid1,Techno\n")
    with pytest.raises(DataError, match="line 3"):
        score_submission(good, key)
    key.write_text("id,label\n")
    with pytest.raises(DataError, match="line 1"):
        score_submission(good, key)


def test_answer_key_errors_say_what_is_wrong(good, tmp_path):
    key = tmp_path / "key.csv"
    key.write_text("file_id,genre\nid0,Rock\nid1,Pop\nid0,Jazz\n")
    with pytest.raises(DataError, match=r"line 4: file_id 'id0' repeats line 2; keep one"):
        score_submission(good, key)
    key.write_text("file_id,genre\nid0,Rock\nid1,rock\n")
    with pytest.raises(DataError, match=r"line 3: genre 'rock' is not one .*did you mean 'Rock'"):
        score_submission(good, key)
    key.write_text("file_id,genre\nid0,Rock,extra\n")
    with pytest.raises(DataError, match=r"line 2: expected two fields, file_id and genre"):
        score_submission(good, key)


def test_a_partial_answer_key_is_named_as_the_cause(good, tmp_path):
    key = tmp_path / "key.csv"
    key.write_text("file_id,genre\nid0,Rock\nid1,Pop\n")  # two of the four clips
    with pytest.raises(
        SubmissionError,
        match=r"2 rows have a file_id the answer key .*key.csv "
        r"does not hold .*every clip of the key has a row",
    ):
        score_submission(good, key)


def test_a_folder_or_an_odd_file_name_is_one_line(good, test_dir, tmp_path):
    with pytest.raises(ParameterError, match=r"is a folder; name the submission file"):
        write_submission(IDS, _proba(), CHALLENGE_GENRES, tmp_path)
    with pytest.raises(DataError, match=r"challenge test folder not found \(is a file, not a"):
        ids_from_test_dir(good)
    (test_dir / "x,y.mp3").write_bytes(b"")
    result = runner.invoke(
        app, ["submit", "--uniform", "--test-dir", str(test_dir), "--out", str(tmp_path / "u.csv")]
    )
    assert result.exit_code == 1
    assert str(result.exception).startswith(f"{test_dir / 'x,y.mp3'}: its file id 'x,y' cannot")


# --- CLI ---------------------------------------------------------------------------------


def test_cli_submit_uniform_then_score_prints_2_7726(test_dir, tmp_path):
    out = tmp_path / "u.csv"
    result = runner.invoke(
        app, ["submit", "--uniform", "--test-dir", str(test_dir), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["score", str(out), "--answers", str(_answers(tmp_path))])
    assert result.exit_code == 0, result.output
    assert "log loss" in result.stdout and "2.7726" in result.stdout
    assert "macro F1" in result.stdout and "top-3" not in result.stdout
    result = runner.invoke(app, ["score", str(out), "--answers", str(_answers(tmp_path)), "--all"])
    assert "top-3 accuracy" in result.stdout and "ECE" in result.stdout
    result = runner.invoke(app, ["score", str(out), "--answers", str(_answers(tmp_path)), "--json"])
    payload = json.loads(result.stdout)
    assert payload["valid"] and payload["log_loss"] == pytest.approx(math.log(16))


def test_cli_submit_default_path_and_requires_uniform(test_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["submit", "--uniform", "--test-dir", str(test_dir)])
    assert result.exit_code == 0, result.output
    assert validate_submission(tmp_path / "submissions" / "uniform.csv", expected_ids=IDS) == []
    result = runner.invoke(app, ["submit", "--test-dir", str(test_dir)])
    assert result.exit_code == 1


def test_cli_validate_exit_codes_and_json(good, test_dir, tmp_path):
    result = runner.invoke(app, ["validate", str(good), "--test-dir", str(test_dir)])
    assert result.exit_code == 0 and "valid" in result.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text(_join(_set_cell(_lines(good), 3, "Rock", "1.2")))
    result = runner.invoke(app, ["validate", str(bad), "--test-dir", str(test_dir)])
    assert result.exit_code == 2 and "out_of_range" in result.stdout
    result = runner.invoke(app, ["validate", str(bad), "--test-dir", str(test_dir), "--json"])
    payload = json.loads(result.stdout)
    assert result.exit_code == 2 and payload["valid"] is False
    assert payload["problems"][0]["line"] == 3 and payload["n_problems"] == 1


def test_cli_validate_shows_20_problems_then_a_count(good, tmp_path):
    ids = [f"x{i}" for i in range(30)]
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text("\n".join(ids) + "\n")
    result = runner.invoke(app, ["validate", str(good), "--ids", str(ids_file)])
    assert result.exit_code == 2
    assert "and 14 more problem(s)" in result.stdout  # 4 unknown + 30 missing = 34


def test_cli_score_invalid_exits_2(good, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(_join(_lines(good)[:3]))
    result = runner.invoke(app, ["score", str(bad), "--answers", str(_answers(tmp_path)), "--json"])
    assert result.exit_code == 2
    assert json.loads(result.stdout)["n_problems"] == 2  # id2 and id3 missing


def test_cli_validate_rejects_both_id_sources(good, test_dir, tmp_path):
    args = ["validate", str(good), "--test-dir", str(test_dir), "--ids", str(good)]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "not both" in result.output


@pytest.mark.slow  # the session's synthetic set takes a few seconds to generate
def test_cli_on_synthetic_test_folder(synth_root, tmp_path):
    from harness.data.layout import FmaLayout

    out = tmp_path / "u.csv"
    test_dir, answers = FmaLayout(synth_root).test_dir, FmaLayout(synth_root).answers_csv
    result = runner.invoke(
        app, ["submit", "--uniform", "--test-dir", str(test_dir), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["validate", str(out), "--test-dir", str(test_dir)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["score", str(out), "--answers", str(answers)])
    assert result.exit_code == 0, result.output
    assert "2.7726" in result.stdout
