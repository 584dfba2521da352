"""Faults a long training run meets, injected into tools/train.py on tiny generated data
(tests/faults/hooks.py says how each is injected), and what the user keeps. The reference is
the uninterrupted run of the same config and seed (the ``tiny_demo_run`` fixture): a run
resumed after any of these faults ends with the same weights, bit for bit, on the CPU."""
import os
import os.path as osp
import shutil
import signal

import pytest
import torch

from cast.engine.checkpoint import UnreadableCheckpointError, inspect_checkpoint
from cast.engine.resume import ResumeError, choose_resume_checkpoint
from tests.faults.runs import (
    assert_same_weights,
    assert_whole,
    checkpoint_files,
    digest,
    error_line,
    fault,
    pointer,
    run,
    train_args,
)


@pytest.fixture
def data_copy(tmp_path, synthetic_spin_root):
    """A copy of the tiny dataset that a test may damage."""
    root = tmp_path / 'spin'
    shutil.copytree(synthetic_spin_root, root)
    return root


def test_faults_in_a_row_then_resume_replays_the_uninterrupted_run(
        tiny_demo_run, data_copy, synthetic_spin_root, tmp_path, repo_root, tool_env):
    """One work dir through six faults, each checked on disk; the weights of the resumed run
    are the uninterrupted run's, bit for bit."""
    work = tmp_path / 'work'

    def train(*options, resume=True):
        return run(train_args(work, data_copy, *options, resume=resume), repo_root, tool_env)

    # 1. SIGKILL during training (iteration 3 starting; iter_2.pth was saved)
    code, out, err = train(*fault('kill'), resume=False)
    assert code == -signal.SIGKILL, err[-3000:]
    assert checkpoint_files(work) == ['iter_2.pth'] and pointer(work) == 'iter_2.pth'
    assert_whole(work, 'iter_2.pth')

    # 2. SIGKILL while iter_4.pth is being written (half of its bytes on disk)
    code, out, err = train(*fault('kill_in_write', 'before_save_checkpoint', 4))
    assert code == -signal.SIGKILL, err[-3000:]
    assert checkpoint_files(work) == ['iter_2.pth', 'iter_4.pth.partial']
    assert pointer(work) == 'iter_2.pth'
    inspect_checkpoint(str(work / 'iter_2.pth'))

    # 3. the disk fills up while iter_4.pth is being written; with max_keep_ckpts=1,
    # CheckpointHook has asked to remove iter_2.pth before the save
    before = digest(work / 'iter_2.pth')
    code, out, err = train(*fault('enospc_in_write', 'before_save_checkpoint', 4),
                           'default_hooks.checkpoint.max_keep_ckpts=1')
    line = error_line(err)
    assert code == 1 and f'no space left on device saving iter_4.pth in {work}' in line, line
    assert 'needed' in line and 'newest: iter_2.pth' in line and '--resume' in line, line
    assert f'Removed {work / "iter_4.pth.partial"}' in out  # the partial file of fault 2
    assert checkpoint_files(work) == ['iter_2.pth'] and digest(work / 'iter_2.pth') == before
    assert pointer(work) == 'iter_2.pth'

    # 4. the training images become unreadable in the middle of the epoch (iteration 3)
    images = str(data_copy / 'images' / 'train' / '*')
    code, out, err = train(*fault('corrupt', paths=images))
    line = error_line(err)
    assert code == 1 and str(data_copy / 'images' / 'train') in line, line
    assert checkpoint_files(work) == ['iter_2.pth'] and digest(work / 'iter_2.pth') == before
    shutil.rmtree(data_copy / 'images' / 'train')
    shutil.copytree(osp.join(synthetic_spin_root, 'images', 'train'),
                    data_copy / 'images' / 'train')

    # 5. a last checkpoint cut short (a copy, a sync from another machine): skipped and kept
    with open(tiny_demo_run / 'iter_4.pth', 'rb') as f:
        (work / 'iter_4.pth').write_bytes(f.read()[:5_000_000])
    (work / 'last_checkpoint').write_text(str(work / 'iter_4.pth'))

    # ... and 6. SIGKILL in the validation that follows iter_4.pth
    code, out, err = train(*fault('kill', 'after_val_iter', 4))
    assert code == -signal.SIGKILL, err[-3000:]
    assert f'checkpoint "{work / "iter_4.pth"}" cannot be read' in out, out[-3000:]
    assert f'Resuming from {work / "iter_2.pth"}, the newest whole checkpoint' in out
    assert (work / 'iter_4.pth.unreadable').stat().st_size == 5_000_000
    assert 'training files are not those' not in out  # the restored files are the same
    assert_whole(work, 'iter_2.pth', 'iter_4.pth')
    assert pointer(work) == 'iter_4.pth'
    assert_same_weights(work / 'iter_4.pth', tiny_demo_run / 'iter_4.pth')

    # nothing is left to train: --resume ends at once and changes no checkpoint
    before = digest(work / 'iter_4.pth')
    code, out, err = train()
    assert code == 0 and digest(work / 'iter_4.pth') == before, err[-3000:]


def copy_run(source, work):
    """A copy of a finished work dir (its last_checkpoint still names the source's file)."""
    shutil.copytree(source, work, ignore=shutil.ignore_patterns('.run.lock'))
    return work


def test_a_named_unreadable_checkpoint_is_refused_with_the_flag_to_pass(
        tiny_demo_run, synthetic_spin_root, tmp_path, repo_root, tool_env):
    work = copy_run(tiny_demo_run, tmp_path / 'work')
    with open(work / 'iter_4.pth', 'r+b') as f:
        f.truncate(1000)
    before = {name: digest(work / name) for name in checkpoint_files(work)}
    code, out, err = run(train_args(work, synthetic_spin_root, resume=work / 'iter_4.pth'),
                         repo_root, tool_env)
    line = error_line(err)
    assert code == 1 and f'checkpoint "{work / "iter_4.pth"}" cannot be read' in line, line
    assert line.endswith(f'pass --resume {work / "iter_2.pth"}'), line
    assert {name: digest(work / name) for name in checkpoint_files(work)} == before


@pytest.mark.parametrize('damage, reason', [
    ('empty', 'the file is empty'),
    ('cut', 'not a whole torch checkpoint'),
    ('garbage', 'not a whole torch checkpoint'),
    ('flipped', 'fails its CRC check'),
    ('other', 'not an MMEngine training checkpoint'),
])
def test_what_is_wrong_with_a_checkpoint_is_named(damage, reason, tiny_demo_run, tmp_path):
    work = copy_run(tiny_demo_run, tmp_path / 'work')
    path = work / 'iter_4.pth'
    data = path.read_bytes()
    if damage == 'empty':
        path.write_bytes(b'')
    elif damage == 'cut':
        path.write_bytes(data[:len(data) // 2])
    elif damage == 'garbage':
        path.write_bytes(os.urandom(4096))
    elif damage == 'flipped':  # one byte changed in the middle of a tensor
        middle = len(data) // 2
        path.write_bytes(data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1:])
    else:
        torch.save({'weights': torch.ones(2)}, path)
    with pytest.raises(UnreadableCheckpointError, match=reason) as info:
        inspect_checkpoint(str(path))
    assert str(path) in str(info.value)
    chosen, note = choose_resume_checkpoint(str(work), str(work))
    assert chosen == str(work / 'iter_2.pth') and str(path) in note
    (work / 'iter_2.pth').write_bytes(b'')
    with pytest.raises(ResumeError, match='nothing to resume.*--work-dir NEW_DIR'):
        choose_resume_checkpoint(str(work), str(work))


def test_a_checkpoint_of_another_model_is_refused(tiny_demo_run, synthetic_spin_root, tmp_path,
                                                  repo_root, tool_env):
    work = copy_run(tiny_demo_run, tmp_path / 'work')
    checkpoint = torch.load(work / 'iter_4.pth', map_location='cpu', weights_only=True)
    key = next(k for k in checkpoint['state_dict'] if k.endswith('conv_seg.weight'))
    weight = checkpoint['state_dict'][key]
    checkpoint['state_dict'][key] = torch.zeros(weight.shape[0] + 3, *weight.shape[1:])
    torch.save(checkpoint, work / 'iter_4.pth')
    before = digest(work / 'iter_4.pth')
    code, out, err = run(train_args(work, synthetic_spin_root, resume=True), repo_root,
                         tool_env)
    line = error_line(err)
    assert code == 1 and f'cannot resume from {work / "iter_4.pth"}' in line, line
    assert f'1 tensors differ in shape (e.g. {key}' in line and 'load_from=' in line, line
    assert digest(work / 'iter_4.pth') == before and checkpoint_files(work) == [
        'iter_2.pth', 'iter_4.pth']


def test_training_files_changed_between_runs_are_reported(tiny_demo_run, data_copy, tmp_path,
                                                          repo_root, tool_env):
    work = tmp_path / 'work'
    work.mkdir()
    shutil.copy(tiny_demo_run / 'iter_2.pth', work / 'iter_2.pth')
    (work / 'last_checkpoint').write_text(str(work / 'iter_2.pth'))
    image = sorted((data_copy / 'images' / 'train').iterdir())[0]
    with open(image, 'ab') as f:
        f.write(b'\0' * 100)  # still a JPEG (decoders stop at its end marker), a new size
    code, out, err = run(train_args(work, data_copy, resume=True), repo_root, tool_env)
    assert code == 0, err[-3000:]
    assert ('the training files are not those' in out and 'but other file sizes' in out), \
        out[-3000:]
    assert_whole(work, 'iter_2.pth', 'iter_4.pth')
