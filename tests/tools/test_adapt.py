"""tools/adapt.py end to end on the tiny recognition configs: a folder of generated images with a
checkpoint made here, a dataset split, a MoCo v3 model, two processes; the run-safety rule and
the errors on bad input."""
import json
import os.path as osp
import sys

import mmcv
import numpy as np
import pytest
import torch

from cast.apis import init_recognition_model
from tests.helpers.tools import load_tool, run_tool, tool_environment

CLASSES = ['cat', 'car', 'fish', 'dog', 'bus', 'eel']


@pytest.fixture(scope='module')
def adapt():
    return load_tool('adapt.py')


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory, tiny_config_dir):
    """A checkpoint of the tiny DeiT classifier as the runner saves one (weights under
    ``state_dict``, class names in ``meta.dataset_meta``), its head drawn at random."""
    model = init_recognition_model(osp.join(tiny_config_dir, 'tiny_cast_deit.py'), device='cpu')
    torch.manual_seed(1)
    torch.nn.init.normal_(model.head.layers.head.weight, std=0.5)
    path = str(tmp_path_factory.mktemp('adapt_ckpt') / 'tiny_deit.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict(dataset_meta=dict(classes=CLASSES))),
               path)
    return path


@pytest.fixture(scope='module')
def images(tmp_path_factory):
    """Three generated images of different sizes in a folder (one in a sub-folder)."""
    root = tmp_path_factory.mktemp('adapt_images')
    rng = np.random.RandomState(0)
    for i, (h, w) in enumerate([(72, 88), (80, 64), (64, 64)]):
        yy, xx = np.mgrid[:h, :w]
        img = np.stack([xx * 3, yy * 2, 255 - xx * 3], -1) * 0.5
        img[(yy - h // 2) ** 2 + (xx - w // 3) ** 2 < (h // 4) ** 2] = rng.randint(0, 255, 3)
        folder = root / 'sub' if i == 2 else root
        folder.mkdir(exist_ok=True)
        mmcv.imwrite(np.clip(img + rng.normal(0, 10, img.shape), 0, 255).astype(np.uint8),
                     str(folder / f'img{i}.png'))
    return root


def test_adapts_a_folder_and_writes_pictures_and_results(adapt, tiny_config_dir, checkpoint,
                                                         images, tmp_path):
    out = tmp_path / 'out'
    adapt.main([osp.join(tiny_config_dir, 'tiny_cast_deit.py'), checkpoint, str(images),
                '--steps', '2', '--views', '2', '--lr', '1e-3', '--out-dir', str(out)])
    run = json.loads((out / 'results.json').read_text())
    assert (run['objective'], run['steps'], run['views']) == ('memo', 2, 2)
    assert [osp.basename(r['image']) for r in run['images']] == ['img0.png', 'img1.png',
                                                                 'img2.png']
    for result in run['images']:
        assert len(result['objective']) == 2
        assert len(result['topk_before']) == len(result['topk_after']) == 5
        assert {name for _, name, _ in result['topk_after']} <= set(CLASSES)
        picture = mmcv.imread(result['picture'])
        # three rows (before, step 1, after), each the class box, the view and 5 levels
        assert picture.shape[0] > 3 * 160 and picture.shape[1] > 6 * 160
    assert sorted(p.name for p in out.iterdir()) == [
        '00000_img0.png', '00001_img1.png', '00002_img2.png', 'results.json']

    # nothing a user wrote is lost: the same out dir is refused without --overwrite
    before = (out / 'results.json').read_text()
    with pytest.raises(FileExistsError, match='--overwrite'):
        adapt.main([osp.join(tiny_config_dir, 'tiny_cast_deit.py'), checkpoint, str(images),
                    '--views', '2', '--out-dir', str(out)])
    assert (out / 'results.json').read_text() == before


def test_adapts_a_dataset_split_and_a_mocov3_model(adapt, tiny_config_dir,
                                                   synthetic_imagenet_root, tmp_path):
    root = synthetic_imagenet_root
    out = tmp_path / 'val'
    adapt.main([osp.join(tiny_config_dir, 'tiny_cast_deit.py'), 'random', 'val', '--views', '2',
                '--no-pictures', '--out-dir', str(out), '--cfg-options',
                f'val_dataloader.dataset.data_root={root}',
                f'val_dataloader.dataset.classes={root}/meta/classes.txt'])
    run = json.loads((out / 'results.json').read_text())
    assert len(run['images']) == 4
    assert all(r['gt_label'] is not None and r['picture'] is None for r in run['images'])

    out = tmp_path / 'moco'
    views = [f'train_dataloader.dataset.pipeline.1.transforms.{v}.0.scale=64' for v in (0, 1)]
    image = osp.join(root, 'val')
    adapt.main([osp.join(tiny_config_dir, 'tiny_mocov3_cast.py'), 'random', image, '--views',
                '2', '--params', 'norm', '--steps', '3', '--draw-every', '2', '--out-dir',
                str(out), '--cfg-options', *views])
    run = json.loads((out / 'results.json').read_text())
    assert run['objective'] == 'cosine' and len(run['images']) == 4
    assert all('topk_after' not in r and len(r['objective']) == 3 for r in run['images'])
    # rows: before, step 2, after step 3, so two grey 6-pixel rules between them
    for result in run['images']:
        picture = mmcv.imread(result['picture'])
        assert (picture == 160).all(axis=(1, 2)).sum() == 2 * 6


@pytest.mark.multiprocess
def test_two_processes_share_the_images_and_gather_them(tiny_config_dir, checkpoint, images,
                                                        tmp_path, repo_root, adapt):
    out = tmp_path / 'dist'
    args = [osp.join(tiny_config_dir, 'tiny_cast_deit.py'), checkpoint, str(images),
            '--views', '2', '--lr', '1e-3']
    run_tool([sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2',
              '--master_port=29741', 'tools/adapt.py', *args, '--out-dir', str(out),
              '--launcher', 'pytorch'], repo_root, tool_environment())
    dist_run = json.loads((out / 'results.json').read_text())
    adapt.main(args + ['--out-dir', str(tmp_path / 'one')])
    one_run = json.loads((tmp_path / 'one' / 'results.json').read_text())
    # image i's views are seeded with seed + i: the same results, in input order
    for a, b in zip(dist_run['images'], one_run['images']):
        assert a['image'] == b['image']
        assert a['objective'] == pytest.approx(b['objective'], rel=1e-5)
        assert [t[0] for t in a['topk_after']] == [t[0] for t in b['topk_after']]
    assert len(list(out.glob('*.png'))) == 3


def test_bad_inputs_get_clear_errors(adapt, tiny_config_dir, checkpoint, tmp_path):
    deit = osp.join(tiny_config_dir, 'tiny_cast_deit.py')
    text = tmp_path / 'notes.txt'
    text.write_text('not an image')
    with pytest.raises(ValueError, match=r'notes\.txt is not an image file'):
        adapt.main([deit, checkpoint, str(text), '--out-dir', str(tmp_path / 'a')])
    broken = tmp_path / 'folder'
    broken.mkdir()
    (broken / 'broken.png').write_bytes(b'\x89PNG not really')
    with pytest.raises(ValueError, match=r'broken\.png is not an image file'):
        adapt.main([deit, checkpoint, str(broken), '--out-dir', str(tmp_path / 'b')])
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match='empty holds no image file'):
        adapt.main([deit, checkpoint, str(empty), '--out-dir', str(tmp_path / 'c')])
    with pytest.raises(FileNotFoundError, match='not an image file, a folder, or a dataset'):
        adapt.main([deit, checkpoint, 'nowhere', '--out-dir', str(tmp_path / 'd')])
    seg = osp.join(tiny_config_dir, 'tiny_upernet_cast.py')
    with pytest.raises(TypeError, match=r'tiny_upernet_cast\.py: test-time adaptation needs a '
                                        r'recognition model.*CASTEncoderDecoder'):
        adapt.main([seg, 'random', str(text), '--out-dir', str(tmp_path / 'e')])
