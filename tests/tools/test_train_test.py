"""The tools as users run them: real MMEngine runners on a tiny generated SPIN dataset."""
import glob
import json
import os.path as osp
import shutil
import sys

import pytest
import torch

from tests.helpers.tools import TINY_DEMO, data_options, run_tool, train


def load_weights(path):
    return torch.load(path, map_location='cpu', weights_only=True)['state_dict']


def last_scalars(work_dir, key='mIoU.object'):
    """The newest metrics holding ``key`` that MMEngine logged under ``work_dir`` (as JSON lines:
    <timestamp>/<timestamp>.json for tests, <timestamp>/vis_data/scalars.json for training)."""
    files = sorted(glob.glob(osp.join(str(work_dir), '*', '**', '*.json'), recursive=True),
                   key=osp.getmtime)
    records = [json.loads(line) for path in files for line in open(path) if line.strip()]
    records = [r for r in records if key in r]
    assert records, f'no metrics with {key} logged under {work_dir}'
    return records[-1]


@pytest.fixture(scope='module')
def trained(tiny_demo_run):
    """One short training run shared by the test-side checks (and the inference tests)."""
    return tiny_demo_run


def test_train_writes_checkpoints_and_validates(trained):
    assert osp.isfile(osp.join(trained, 'iter_4.pth'))
    with open(osp.join(trained, 'last_checkpoint')) as f:
        assert f.read().strip().endswith('iter_4.pth')
    assert {'mIoU.object', 'mIoU.part', 'mIoU.subpart', 'SeCS'} <= set(
        last_scalars(trained, key='mIoU.object'))


def test_test_tool_eval_selection(trained, synthetic_spin_root, repo_root, tool_env, tmp_path):
    ckpt = osp.join(trained, 'iter_4.pth')
    base = [sys.executable, 'tools/test.py', TINY_DEMO, ckpt, '--work-dir', str(tmp_path)]
    _, out = run_tool(base + ['--eval', 'mIoU', 'SpCS', 'SeCS', '--show-dir', str(tmp_path / 'vis'),
                              '--cfg-options', *data_options(synthetic_spin_root)],
                      repo_root, tool_env)
    scalars = last_scalars(tmp_path)
    assert {'mIoU.object', 'mIoU.subpart', 'SpCS_S2P', 'SpCS_P2O', 'SeCS'} <= set(scalars)
    pictures = glob.glob(str(tmp_path / 'vis' / '**' / '*.png'), recursive=True)
    assert len(pictures) == 4, out[-2000:]  # one per validation image

    _, out = run_tool(base + ['--eval', 'mIoU', '--cfg-options',
                              *data_options(synthetic_spin_root)], repo_root, tool_env)
    scalars = last_scalars(tmp_path)
    assert 'mIoU.part' in scalars and 'SeCS' not in scalars and 'SpCS_P2O' not in scalars

    code, out = run_tool(base + ['--eval', 'mDice', '--cfg-options',
                                 *data_options(synthetic_spin_root)],
                         repo_root, tool_env, expect_ok=False)
    assert code != 0 and "unknown metric 'mDice'" in out


def test_test_tool_joint_decoding(trained, synthetic_spin_root, repo_root, tool_env, tmp_path):
    """tools/test.py ... --cfg-options model.decoding=joint on a trained checkpoint: every
    predicted chain is valid, so SpCS and SeCS are 100 (nan only where nothing is predicted)."""
    ckpt = osp.join(trained, 'iter_4.pth')
    _, out = run_tool([sys.executable, 'tools/test.py', TINY_DEMO, ckpt, '--work-dir',
                       str(tmp_path), '--eval', 'mIoU', 'SpCS', 'SeCS', '--cfg-options',
                       'model.decoding=joint', *data_options(synthetic_spin_root)],
                      repo_root, tool_env)
    scalars = last_scalars(tmp_path)
    for key in ('SpCS_S2P', 'SpCS_P2O', 'SeCS'):
        assert scalars[key] == 100 or scalars[key] != scalars[key], (key, out[-2000:])
    assert {'mIoU.object', 'mIoU.part', 'mIoU.subpart'} <= set(scalars)
    code, out = run_tool([sys.executable, 'tools/test.py', TINY_DEMO, ckpt, '--work-dir',
                          str(tmp_path), '--cfg-options', 'model.decoding=best',
                          *data_options(synthetic_spin_root)], repo_root, tool_env,
                         expect_ok=False)
    assert code != 0 and 'decoding must be one of' in out


def parse_decodings_table(out):
    """``{decoding: {column: value}}`` from the table ``--compare-decodings`` prints."""
    lines = [line for line in out.splitlines() if line.startswith('| ')]
    head = [cell.strip() for cell in lines[0].strip('|').split('|')]
    rows = {}
    for line in lines[1:]:
        cells = [cell.strip() for cell in line.strip('|').split('|')]
        rows[cells[0]] = {k: float(v) for k, v in zip(head[1:], cells[1:])}
    return rows


def test_test_tool_compare_decodings(trained, synthetic_spin_root, repo_root, tool_env,
                                     tmp_path):
    """``--compare-decodings``: the config's decoding (the demo's joint) first, then each one
    named, each row what a test with that ``model.decoding`` alone reports."""
    ckpt = osp.join(trained, 'iter_4.pth')
    base = [sys.executable, 'tools/test.py', TINY_DEMO, ckpt, '--eval', 'mIoU', 'SpCS', 'SeCS']
    _, out = run_tool(base + ['--work-dir', str(tmp_path / 'all'), '--compare-decodings',
                              'independent', 'greedy', '--show-dir', str(tmp_path / 'vis'),
                              '--cfg-options', *data_options(synthetic_spin_root)],
                      repo_root, tool_env)
    rows = parse_decodings_table(out[out.index('decoded 3 ways'):])
    assert list(rows) == ['joint', 'independent', 'greedy']
    assert set(rows['joint']) == {'mIoU.object', 'mIoU.part', 'mIoU.subpart', 'SpCS_S2P',
                                  'SpCS_P2O', 'SeCS'}
    for decoding in ('joint', 'greedy'):
        assert all(rows[decoding][k] in (100, float('nan')) or rows[decoding][k] != rows[
            decoding][k] for k in ('SpCS_S2P', 'SpCS_P2O', 'SeCS')), rows
    # pictures come from the first test only: one per validation image
    assert len(glob.glob(str(tmp_path / 'vis' / '**' / '*.png'), recursive=True)) == 4
    run_tool(base + ['--work-dir', str(tmp_path / 'alone'), '--cfg-options',
                     'model.decoding=independent', *data_options(synthetic_spin_root)],
             repo_root, tool_env)
    alone = last_scalars(tmp_path / 'alone')
    assert rows['independent'] == pytest.approx(
        {k: round(alone[k], 2) for k in rows['independent']}, abs=0.006, nan_ok=True)
    code, out = run_tool(base + ['--work-dir', str(tmp_path), '--tta', '--compare-decodings',
                                 'greedy'], repo_root, tool_env, expect_ok=False)
    assert code != 0 and 'not with --tta' in out


def test_missing_data_root_names_the_path(tmp_path, repo_root, tool_env):
    missing = tmp_path / 'no_such_dataset'
    code, out = train(repo_root, tool_env, tmp_path / 'work', str(missing), expect_ok=False)
    assert code != 0 and str(missing) in out and 'is not a directory' in out


def test_corrupt_image_names_the_file(tmp_path, synthetic_spin_root, repo_root, tool_env):
    root = tmp_path / 'spin'
    shutil.copytree(synthetic_spin_root, root)
    victim = sorted((root / 'images' / 'train').iterdir())[0]
    victim.write_bytes(b'not a jpeg')
    code, out = train(repo_root, tool_env, tmp_path / 'work', str(root), expect_ok=False)
    assert code != 0 and victim.name in out


def test_resume_matches_uninterrupted_run(tmp_path, synthetic_spin_root, repo_root, tool_env):
    straight = tmp_path / 'straight'
    train(repo_root, tool_env, straight, synthetic_spin_root)

    interrupted = tmp_path / 'interrupted'
    code, out = train(repo_root, tool_env, interrupted, synthetic_spin_root,
                      config='tests/data/configs/tiny_demo_interrupted.py', expect_ok=False)
    assert code == 17, out[-3000:]
    assert osp.isfile(interrupted / 'iter_2.pth') and not osp.exists(interrupted / 'iter_4.pth')

    _, out = train(repo_root, tool_env, interrupted, synthetic_spin_root, '--resume')
    assert 'resumed' in out.lower() and 'iter_2.pth' in out, out[-3000:]
    expected, resumed = (load_weights(d / 'iter_4.pth') for d in (straight, interrupted))
    assert expected.keys() == resumed.keys()
    for key in expected:
        torch.testing.assert_close(resumed[key], expected[key], rtol=0, atol=1e-6, msg=key)
    # Nothing the first run wrote is lost.
    assert osp.isfile(interrupted / 'iter_2.pth')


@pytest.mark.multiprocess
def test_dist_train_two_processes_on_cpu(tmp_path, synthetic_spin_root, repo_root, tool_env):
    env = dict(tool_env, PYTHON=sys.executable, PORT='29517')
    # SyncBN as the UperNet/SegFormer configs ask: without CUDA it must become BN (torch's
    # SyncBatchNorm refuses CPU tensors in a distributed run)
    args = ['bash', 'tools/dist_train.sh', TINY_DEMO, '2', '--work-dir', str(tmp_path),
            '--cfg-options', *data_options(synthetic_spin_root), 'train_cfg.max_iters=2',
            'train_cfg.val_interval=2', 'param_scheduler.0.end=2',
            'model.decode_head.decode_head.norm_cfg.type=SyncBN']
    _, out = run_tool(args, repo_root, env)
    assert osp.isfile(tmp_path / 'iter_2.pth'), out[-3000:]
    assert "dist_cfg: {'backend': 'gloo'}" in out, out[-3000:]
    # MMEngine reports the world size as the "GPU number", CPU processes included.
    assert 'Distributed training: True' in out and 'GPU number: 2' in out, out[-3000:]
