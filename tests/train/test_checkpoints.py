"""Checkpoint folders: only complete ones are resumed from; pruning keeps the newest."""

from cosmoalign.train.checkpoints import (
    Progress,
    checkpoint_path,
    mark_complete,
    newest_complete,
    prune,
)


def test_an_unmarked_checkpoint_is_never_resumed_from(tmp_path):
    for step in (10, 20, 30):
        checkpoint_path(tmp_path, step).mkdir()
    mark_complete(checkpoint_path(tmp_path, 10))
    mark_complete(checkpoint_path(tmp_path, 20))
    assert newest_complete(tmp_path) == checkpoint_path(tmp_path, 20)
    assert newest_complete(tmp_path / "missing") is None


def test_prune_drops_incomplete_and_old_checkpoints(tmp_path):
    for step in (10, 20, 30, 40):
        checkpoint_path(tmp_path, step).mkdir()
        if step != 40:
            mark_complete(checkpoint_path(tmp_path, step))
    prune(tmp_path, keep=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step-00000020", "step-00000030"]


def test_progress_round_trips_through_its_state_dict():
    progress = Progress(step=7, epoch=1, batches_in_epoch=3, samples=224)
    restored = Progress()
    restored.load_state_dict(progress.state_dict())
    assert restored == progress
