"""Run directories: resume, refuse another configuration, options added since a run was made."""
import pytest

from tfqsr.runtime.rundir import RunDirectoryError, check_run_dir, prepare_run_dir


def test_same_configuration_resumes_and_another_is_refused(tmp_path):
    run_dir = str(tmp_path / "run")
    assert check_run_dir(run_dir, {"a": 1, "steps": 5}) == "new"
    prepare_run_dir(run_dir, {"a": 1, "steps": 5}, "new")
    assert check_run_dir(run_dir, {"a": 1, "steps": 5}) == "resume"
    assert check_run_dir(run_dir, {"a": 1, "steps": 9}, resume_keys_ignored=("steps",)) == "resume"
    with pytest.raises(RunDirectoryError, match=r"differs in: a\)"):
        check_run_dir(run_dir, {"a": 2, "steps": 5})
    assert check_run_dir(run_dir, {"a": 2, "steps": 5}, overwrite=True) == "overwrite"


def test_options_added_since_the_run_take_their_defaults(tmp_path):
    run_dir = str(tmp_path / "run")
    prepare_run_dir(run_dir, {"a": 1}, "new")  # made before option "b" existed
    assert check_run_dir(run_dir, {"a": 1, "b": "warmup"}, defaults={"a": 0, "b": "warmup"}) == "resume"
    with pytest.raises(RunDirectoryError, match=r"differs in: b\)"):
        check_run_dir(run_dir, {"a": 1, "b": "constant"}, defaults={"a": 0, "b": "warmup"})
