"""Per-model settings from run.toml ([params.NAME]) and resuming an interrupted training."""

import pandas as pd
import pytest

from harness.config.run_config import RunConfig, load_config_file
from harness.errors import ParameterError
from harness.run.pipeline import run_pipeline

pytestmark = pytest.mark.slow

TINY_CNN = {"model_params": {"channels": [4, 8, 8, 8]}, "chunk_frames": 64, "n_eval_chunks": 2}


def _config(synth_root, tmp_path, **overrides) -> RunConfig:
    values = dict(
        root=synth_root,
        models=["cnn"],
        out=tmp_path / "runs",
        submissions_dir=tmp_path / "submissions",
        cache_dir=tmp_path / "cache",
        checks=False,
        n_jobs=1,
    )
    values.update(overrides)
    return RunConfig(**values)


def test_params_from_toml_reach_the_estimators(synth_root, tmp_path):
    toml = tmp_path / "run.toml"
    toml.write_text(
        'models = ["cnn", "mfcc-logreg"]\n'
        "[params.cnn]\nepochs = 3\nchunk_frames = 64\nn_eval_chunks = 2\n"
        "model_params = { channels = [4, 8, 8, 8] }\n"
        "[params.mfcc-logreg]\nC = 0.05\n"
    )
    values = load_config_file(toml)
    assert values["params"]["cnn"]["epochs"] == 3
    run_dir = run_pipeline(_config(synth_root, tmp_path, **values))
    history = pd.read_csv(run_dir / "models" / "cnn" / "history.csv")
    assert history["epoch"].tolist() == [1, 2, 3]
    from harness.bundles.estimator_file import load_estimator

    logreg = load_estimator(run_dir / "models" / "mfcc-logreg" / "model.skops")
    assert logreg[-1].C == 0.05


def test_an_unknown_setting_is_refused_with_its_name_before_any_work(synth_root, tmp_path):
    config = _config(synth_root, tmp_path, models=["cnn"], params={"cnn": {"epoch": 3}})
    with pytest.raises(ParameterError, match=r"\[params.cnn\] epoch: .*Did you mean 'epochs'"):
        run_pipeline(config)
    assert not (tmp_path / "runs").exists() and not (tmp_path / "cache").exists()


def test_params_for_an_unknown_model_are_refused_before_any_work(synth_root, tmp_path):
    with pytest.raises(ParameterError, match="Unknown model 'cnnn'"):
        run_pipeline(_config(synth_root, tmp_path, params={"cnnn": {"epochs": 1}}))
    assert not (tmp_path / "runs").exists()


def test_ddp_refuses_baselines_before_any_work(synth_root, tmp_path):
    with pytest.raises(ParameterError, match="drop mfcc-logreg from --models"):
        run_pipeline(_config(synth_root, tmp_path, models=["cnn", "mfcc-logreg"], ddp=True))


def test_an_interrupted_training_resumes_where_it_stopped(
    synth_root, tmp_path, monkeypatch, capsys
):
    from harness.training import fit_loop

    settings = {"params": {"cnn": TINY_CNN}, "quick": True}  # quick: 2 epochs
    reference = run_pipeline(_config(synth_root, tmp_path / "ref", **settings))
    expected = pd.read_csv(reference / "models" / "cnn" / "history.csv")

    real_epoch = fit_loop.train_one_epoch

    def crash_in_epoch_two(clf, epoch, *args, **kwargs):
        if epoch == 2:
            raise KeyboardInterrupt  # not an Exception: it stops the run, as Ctrl-C would
        return real_epoch(clf, epoch, *args, **kwargs)

    monkeypatch.setattr(fit_loop, "train_one_epoch", crash_in_epoch_two)
    config = _config(synth_root, tmp_path, **settings)
    with pytest.raises(KeyboardInterrupt):
        run_pipeline(config)
    checkpoints = list((tmp_path / "cache" / "checkpoints").glob("cnn-*/last.pt"))
    assert len(checkpoints) == 1

    monkeypatch.setattr(fit_loop, "train_one_epoch", real_epoch)
    run_dir = run_pipeline(config)
    assert "resuming cnn from" in capsys.readouterr().out
    history = pd.read_csv(run_dir / "models" / "cnn" / "history.csv")
    columns = ["epoch", "train_loss", "val_log_loss", "lr"]
    assert history["epoch"].tolist() == [1, 2]
    pd.testing.assert_frame_equal(history[columns], expected[columns])
    assert not checkpoints[0].parent.exists()  # finished: nothing left to resume
