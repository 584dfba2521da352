"""Inference in one call on a checkpoint trained by tools/train.py with
tests/data/configs/tiny_demo.py: cast.apis, mmseg.apis and MMSeg's inferencer all give every
level; HierarchicalInferencer and demo/image_demo.py draw them."""
import glob
import os.path as osp
import subprocess
import sys

import mmcv
import numpy as np
import pytest
import torch
from mmengine.config import Config

import cast  # noqa: F401
from cast.apis import HierarchicalInferencer, inference_model, init_model, show_result
from cast.apis.inference import ANNOTATION_LOADERS, inference_pipeline_config

CONFIG = 'tests/data/configs/tiny_demo.py'
LEVELS = ('object', 'part', 'subpart')
NUM_CLASSES = dict(object=4, part=12, subpart=13)


@pytest.fixture(scope='module')
def checkpoint(tiny_demo_run):
    return osp.join(tiny_demo_run, 'iter_4.pth')


@pytest.fixture(scope='module')
def images(synthetic_spin_root):
    return sorted(glob.glob(osp.join(synthetic_spin_root, 'images', 'val', '*.JPEG')))[:2]


def assert_every_level(sample, shape):
    for level in LEVELS:
        pred = sample.get(f'pred_seg_{level}').data
        assert pred.shape == (1, ) + shape, level
        assert 0 <= int(pred.min()) and int(pred.max()) < NUM_CLASSES[level], level
        assert sample.get(f'seg_logits_{level}').data.shape == (NUM_CLASSES[level], ) + shape
    assert torch.equal(sample.pred_sem_seg.data, sample.pred_seg_object.data)


def test_cast_apis_give_every_level(checkpoint, images):
    model = init_model(CONFIG, checkpoint, device='cpu')
    assert tuple(model.dataset_meta['levels']) == LEVELS
    assert 'hierarchy' in model.dataset_meta
    assert not any(t['type'] in ANNOTATION_LOADERS for t in model.cfg.test_pipeline)
    shape = mmcv.imread(images[0]).shape[:2]
    from_path = inference_model(model, images[0])
    assert_every_level(from_path, shape)
    from_array = inference_model(model, mmcv.imread(images[0]))  # BGR, as mmcv loads it
    for level in LEVELS:  # the same pixels give the same superpixels and predictions
        assert torch.equal(from_array.get(f'pred_seg_{level}').data,
                           from_path.get(f'pred_seg_{level}').data)
    batch = inference_model(model, images)
    assert isinstance(batch, list) and len(batch) == 2
    for sample, path in zip(batch, images):
        assert_every_level(sample, mmcv.imread(path).shape[:2])


@pytest.mark.parametrize('decoding', ['greedy', 'joint'])
def test_consistent_decoding_reads_the_hierarchy_of_the_checkpoint(checkpoint, images, decoding):
    model = init_model(CONFIG, checkpoint, device='cpu', cfg_options={'model.decoding': decoding})
    assert_valid_chains(inference_model(model, images[0]), model.dataset_meta['hierarchy'])


def test_mmseg_apis_work_on_our_config(checkpoint, images):
    from mmseg.apis import inference_model as mmseg_inference
    from mmseg.apis import init_model as mmseg_init
    model = mmseg_init(CONFIG, checkpoint, device='cpu')
    sample = mmseg_inference(model, images[0])
    assert_every_level(sample, mmcv.imread(images[0]).shape[:2])
    ours = inference_model(init_model(CONFIG, checkpoint, device='cpu'), images[0])
    for level in LEVELS:
        assert torch.equal(sample.get(f'pred_seg_{level}').data,
                           ours.get(f'pred_seg_{level}').data)


def test_mmseg_inferencer_works_on_our_config(checkpoint, images, tmp_path):
    from mmseg.apis import MMSegInferencer
    inferencer = MMSegInferencer(CONFIG, checkpoint, device='cpu')
    sample = inferencer(images[0], return_datasamples=True)
    assert_every_level(sample, mmcv.imread(images[0]).shape[:2])
    # MMSeg's own drawing (through the config's visualizer) and label map: the main level
    result = inferencer(images[0], out_dir=str(tmp_path))
    assert result['predictions'].shape == mmcv.imread(images[0]).shape[:2]
    assert osp.isfile(tmp_path / 'vis' / osp.basename(images[0]))
    assert glob.glob(str(tmp_path / 'pred' / '*.png'))


def assert_valid_chains(sample, hierarchy):
    for parent, child in zip(LEVELS, LEVELS[1:]):
        p = sample.get(f'pred_seg_{parent}').data[0]
        c = sample.get(f'pred_seg_{child}').data[0]
        assert ((c == 0) | (torch.tensor(hierarchy[child])[c] == p)).all(), child


def test_mmseg_inferencer_decodes_jointly_from_the_hierarchy_in_the_weights(checkpoint, images):
    """MMSeg's inferencer keeps only classes and palette of the checkpoint's meta; the hierarchy
    comes with the weights (the segmentor's hierarchy_{level} buffers)."""
    from mmseg.apis import MMSegInferencer
    ckpt = torch.load(checkpoint, map_location='cpu', weights_only=True)
    hierarchy = ckpt['meta']['dataset_meta']['hierarchy']
    for child in LEVELS[1:]:  # one (N_c, N_p) relation per child level
        relation = ckpt['state_dict'][f'hierarchy_{child}']
        parents = [row.nonzero().flatten().tolist() for row in relation]
        assert parents == [[p] for p in hierarchy[child]], child
    cfg = Config.fromfile(CONFIG)
    cfg.model.decoding = 'joint'
    inferencer = MMSegInferencer(cfg, checkpoint, device='cpu')
    assert 'hierarchy' not in inferencer.model.dataset_meta  # what MMSeg keeps
    sample = inferencer(images[0], return_datasamples=True)
    assert_every_level(sample, mmcv.imread(images[0]).shape[:2])
    assert_valid_chains(sample, hierarchy)


def test_hierarchical_inferencer_returns_saves_and_draws_every_level(checkpoint, images,
                                                                     tmp_path):
    inferencer = HierarchicalInferencer(CONFIG, checkpoint, device='cpu')
    result = inferencer(images, out_dir=str(tmp_path), return_vis=True)
    assert len(result['predictions']) == 2 and len(result['visualization']) == 2
    for prediction, path in zip(result['predictions'], images):
        stem = osp.splitext(osp.basename(path))[0]
        shape = mmcv.imread(path).shape[:2]
        assert set(prediction) == set(LEVELS)
        for level in LEVELS:
            assert prediction[level].shape == shape
            saved = mmcv.imread(str(tmp_path / 'pred' / level / f'{stem}.png'), flag='unchanged')
            np.testing.assert_array_equal(saved, prediction[level])
        picture = mmcv.imread(str(tmp_path / 'vis' / f'{stem}.png'))
        assert picture.shape[0] > 3 * shape[0]  # the image row and one row per level
    np.testing.assert_array_equal(
        result['visualization'][1],
        mmcv.imread(str(tmp_path / 'vis' / f'{osp.splitext(osp.basename(images[1]))[0]}.png'),
                    channel_order='rgb'))

    sample = inferencer(images[0], return_datasamples=True, with_hierarchy=True)
    assert_every_level(sample, mmcv.imread(images[0]).shape[:2])
    regions = sample.region_hierarchy.data
    assert regions.shape == (5, ) + mmcv.imread(images[0]).shape[:2]  # superpixels + 4 stages
    for fine, coarse in zip(regions[:-1], regions[1:]):  # nested: one parent per region
        pairs = torch.unique(torch.stack([fine.flatten(), coarse.flatten()]), dim=1)
        assert len(torch.unique(pairs[0])) == pairs.shape[1]
    plain = inferencer(images[0], return_vis=True)['visualization']
    with_regions = inferencer(images[0], return_vis=True, with_hierarchy=True)['visualization']
    assert plain.shape[0] == with_regions.shape[0] and plain.shape[1] <= with_regions.shape[1]
    assert not np.array_equal(plain, with_regions[:, :plain.shape[1]])


def test_demo_writes_one_picture_with_every_level(checkpoint, images, repo_root, tool_env,
                                                  tmp_path):
    out = tmp_path / 'demo.png'
    proc = subprocess.run([sys.executable, 'demo/image_demo.py', images[0], CONFIG, checkpoint,
                           '--out-file', str(out), '--device', 'cpu', '--opacity', '0.5',
                           '--title', 'demo', '--with-hierarchy'],
                          cwd=repo_root, env=tool_env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert 'object, part, subpart' in proc.stdout
    picture = mmcv.imread(str(out), channel_order='rgb')
    model = init_model(CONFIG, checkpoint, device='cpu')
    result = inference_model(model, images[0], with_hierarchy=True)
    expected = show_result(model, images[0], result, opacity=0.5, title='demo', draw_gt=False)
    np.testing.assert_array_equal(picture, expected)
    # the picture holds a row per level (panel + legend) below the image row
    vis = model.dataset_meta['levels']
    assert picture.shape[0] > (1 + len(vis)) * 320

    bad = subprocess.run([sys.executable, 'demo/image_demo.py', str(tmp_path / 'none.jpg'),
                          CONFIG, checkpoint], cwd=repo_root, env=tool_env,
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode != 0 and 'none.jpg' in bad.stderr


def test_every_shipped_segmentation_config_has_an_inference_pipeline(repo_root):
    configs = sorted(glob.glob(osp.join(repo_root, 'configs', 'cast', '*.py'))) + \
        [osp.join(repo_root, 'configs', 'demo', 'synthetic_spin.py')]
    checked = 0
    for path in configs:
        cfg = Config.fromfile(path)
        if cfg.get('default_scope') != 'mmseg':
            continue  # the recognition configs (MMPretrain): HierarchyPredictor draws them
        pipeline = inference_pipeline_config(cfg)
        types = [t['type'] for t in pipeline]
        assert types[0] == 'LoadImageFromFile' and 'Superpixels' in types, path
        assert not set(types) & set(ANNOTATION_LOADERS), path
        checked += 1
    assert checked >= 11


def test_single_level_config(tiny_config_dir, images, tmp_path):
    """A plain (one-level) CAST segmentor without a checkpoint: one prediction, numbered class
    names, drawn as one level."""
    config = osp.join(tiny_config_dir, 'tiny_upernet_cast.py')
    options = {'test_dataloader.dataset.pipeline.1.scale': (96, 64)}  # a small test size
    model = init_model(config, None, device='cpu', cfg_options=options)
    assert model.dataset_meta['classes'][:2] == ['class_0', 'class_1']
    sample = inference_model(model, images[0])
    shape = mmcv.imread(images[0]).shape[:2]
    assert sample.pred_sem_seg.data.shape == (1, ) + shape
    assert not any(key.startswith('pred_seg_') for key in sample.keys())
    picture = show_result(model, images[0], sample, draw_gt=False,
                          out_file=str(tmp_path / 'single.png'))
    assert osp.isfile(tmp_path / 'single.png') and picture.shape[0] > 2 * 320


def test_recognition_config_is_refused_with_the_way_out(tiny_config_dir):
    with pytest.raises(TypeError, match='HierarchyPredictor'):
        init_model(osp.join(tiny_config_dir, 'tiny_cast_deit.py'), None, device='cpu')
