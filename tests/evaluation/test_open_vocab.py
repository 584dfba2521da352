"""The open-vocabulary region labeller (cast/evaluation/open_vocab.py), the reference's
per-image Jaccard, and tools/eval_unsupervised.py --labeller clip end to end."""
import json
import os.path as osp

import cast  # noqa: F401  (first: makes torchvision importable for open_clip, torchmetrics)

# isort: split
import numpy as np
import open_clip
import pytest
import torch
import torch.nn.functional as F
from torchmetrics.classification import MulticlassJaccardIndex

from cast.datasets.synthetic import generate_synthetic_partimagenet
from cast.evaluation import UnsupervisedRegionMetric
from cast.evaluation.open_vocab import (
    DEFAULT_MODEL,
    VILD_TEMPLATES,
    CLIPRegionLabeller,
    build_clip,
    clip_state_dict,
    conditional_choice,
    load_clip_weights,
    masked_views,
    read_vocabulary,
    region_parent,
)
from cast.evaluation.unsupervised import image_jaccard, region_stats
from tests.helpers.clip import (
    TINY_CLIP,
    openai_vit_b16_shapes,
    openai_vit_b16_state_dict,
    save_torchscript,
)
from tests.helpers.tools import load_tool


@pytest.fixture(scope='module')
def tiny_weights(tmp_path_factory):
    """A tiny CLIP's random weights as open_clip's file and as a TorchScript archive."""
    folder = tmp_path_factory.mktemp('tiny_clip')
    torch.manual_seed(0)
    state = build_clip(TINY_CLIP).state_dict()
    paths = dict(state_dict=str(folder / 'tiny.pth'), torchscript=str(folder / 'tiny_ts.pt'),
                 config=str(folder / 'tiny.json'))
    torch.save(dict(state_dict={f'module.{k}': v for k, v in state.items()}),
               paths['state_dict'])
    save_torchscript(state, paths['torchscript'])
    with open(paths['config'], 'w') as f:
        json.dump(TINY_CLIP, f)
    return paths


def test_openai_vit_b16_release_layout_loads_in_both_forms(tmp_path):
    """The default model (OpenAI's ViT-B/16) takes a state dict laid out as OpenAI's release,
    as torch.save'd state dict and as a TorchScript archive: no missing, unexpected or
    misshapen key (build_clip raises on any), values carried over."""
    state = openai_vit_b16_state_dict()
    as_dict, as_script = str(tmp_path / 'ViT-B-16-sd.pt'), str(tmp_path / 'ViT-B-16.pt')
    torch.save(state, as_dict)
    save_torchscript(state, as_script)
    expected = {k for k in openai_vit_b16_shapes()
                if k not in ('input_resolution', 'context_length', 'vocab_size')}
    with torch.device('meta'):  # open_clip's ViT-B-16-quickgelu, without its random init
        clip = build_clip()
    clip = clip.to_empty(device='cpu')
    assert set(clip.state_dict()) == expected
    for path in (as_dict, as_script):
        clip.visual.proj.data.zero_()
        load_clip_weights(clip, path, DEFAULT_MODEL)  # raises on any key or shape difference
        assert torch.equal(clip.visual.proj, state['visual.proj'].float())


def test_weights_file_errors(tmp_path, tiny_weights):
    missing = str(tmp_path / 'nope.pt')
    with pytest.raises(FileNotFoundError, match='nope.pt does not exist.*nothing is downloaded'):
        CLIPRegionLabeller(missing, model=TINY_CLIP)
    text = tmp_path / 'notes.txt'
    text.write_text('not weights')
    with pytest.raises(ValueError, match='notes.txt could not be read'):
        clip_state_dict(str(text))
    # a real checkpoint of another model: keys and shapes named
    other = dict(TINY_CLIP, embed_dim=8)
    with pytest.raises(ValueError, match=r'tiny.pth does not fit .*shape mismatches'):
        build_clip(other, tiny_weights['state_dict'])
    with pytest.raises(ValueError, match='unknown open_clip model'):
        build_clip('No-Such-Model')
    with pytest.raises(ValueError, match='masking must be one of'):
        CLIPRegionLabeller(tiny_weights['state_dict'], model=TINY_CLIP, masking='blur')
    with pytest.raises(ValueError, match='one {}'):
        CLIPRegionLabeller(tiny_weights['state_dict'], model=TINY_CLIP, templates=['a photo'])


def test_both_file_forms_give_the_same_model(tiny_weights):
    a = build_clip(TINY_CLIP, tiny_weights['state_dict']).state_dict()
    b = build_clip(TINY_CLIP, tiny_weights['torchscript']).state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_tokenizer_equals_open_clips():
    labeller = CLIPRegionLabeller(None, model=dict(TINY_CLIP, text_cfg=dict(
        TINY_CLIP['text_cfg'], context_length=77)))
    prompts = ['a photo of a Quadruped Head', 'a photo of a Car Tier', 'Background']
    assert torch.equal(labeller.tokenizer(prompts), open_clip.get_tokenizer('ViT-B-16')(prompts))


def test_masked_views_hand_cases():
    image = torch.arange(3 * 4 * 6, dtype=torch.float32).view(3, 4, 6) / 10
    regions = torch.tensor([[0, 0, 1, 1, 1, 1],
                            [0, 0, 1, 1, 1, 1],
                            [2, 2, 2, 1, 1, 1],
                            [2, 2, 2, 2, 2, 2]]) * 3  # ids 0, 3, 6
    # reference, already at CLIP's size (4 x 6 is not square: resize to 4 x 4 first)
    ids, views = masked_views(image[:, :, :4], regions[:, :4], 'reference', size=4, fill=0.5)
    assert ids.tolist() == [0, 3, 6] and views.shape == (3, 3, 4, 4)
    for view, i in zip(views, ids):
        inside = regions[:, :4] == i
        assert torch.equal(view[:, inside], image[:, :, :4][:, inside])
        assert (view[:, ~inside] == 0.5).all()
    # ovseg: the box of region 3 (rows 0..2, columns 2..5), outside it 0, resized bicubic
    ids, views = masked_views(image, regions, 'ovseg', size=8)
    box = image[:, 0:3, 2:6] * (regions[0:3, 2:6] == 3)
    expected = F.interpolate(box[None], size=(8, 8), mode='bicubic', align_corners=False)[0]
    assert torch.allclose(views[1], expected)
    assert box[:, 2, 0].eq(0).all()  # the pixel of region 6 inside region 3's box


def test_region_parent_and_conditional_choice_hand_cases():
    regions = torch.tensor([[5, 5, 7],
                            [7, 7, 7]])
    objects = torch.tensor([[2, 1, 1],
                            [1, 1, 1]])
    assert region_parent(regions, objects, 'first').tolist() == [2, 1]
    assert region_parent(regions, objects, 'majority').tolist() == [1, 1]
    # parts 1..4; object 1 has parts 1, 2; object 2 has parts 3, 4; background none
    groups = [[], [1, 2], [3, 4]]
    scores = torch.tensor([[0.9, 0.1, 0.2, 0.3],    # best overall 1, but its object is 2
                           [0.1, 0.2, 0.9, 0.0],    # best overall 3, object 1 -> 2
                           [0.9, 0.9, 0.9, 0.9]])   # background object -> background
    parent = torch.tensor([2, 1, 0])
    assert conditional_choice(scores, groups, parent).tolist() == [4, 2, 0]


def test_labels_are_clips_closest_names(tiny_weights):
    """label_regions / label_parts equal CLIP's nearest name computed here from open_clip's own
    tokenizer, encode_text and encode_image on views made by hand."""
    torch.manual_seed(1)
    labeller = CLIPRegionLabeller(tiny_weights['state_dict'], model=TINY_CLIP,
                                  templates=VILD_TEMPLATES[:3])
    clip, tok = labeller.clip, open_clip.tokenizer.SimpleTokenizer(context_length=16)
    image = torch.randint(0, 256, (3, 32, 32)).float()
    regions = torch.randint(0, 3, (32, 32)) * 2
    names = ['cat', 'car', 'fish', 'Background']

    def text(names):
        feats = [F.normalize(clip.encode_text(tok([t.format(n) for t in VILD_TEMPLATES[:3]])),
                             dim=-1).mean(0) for n in names]
        return F.normalize(torch.stack(feats), dim=-1)

    with torch.no_grad():
        norm = (image / 255 - torch.tensor(open_clip.OPENAI_DATASET_MEAN).view(3, 1, 1)) / \
            torch.tensor(open_clip.OPENAI_DATASET_STD).view(3, 1, 1)
        views = torch.stack([torch.where(regions == i, norm, torch.tensor(0.5))
                             for i in (0, 2, 4)])
        sims = F.normalize(clip.encode_image(views), dim=-1) @ text(names).T
    best = sims.argmax(1) + 1
    best[best == 4] = 0
    objects = labeller.label_regions(image, regions, names[:3], 'Background')
    for k, i in enumerate((0, 2, 4)):
        assert (objects[regions == i] == best[k]).all()
    # parts conditioned on the object label at each part region's first pixel
    parts = ['cat head', 'cat tail', 'car tire', 'fish fin']
    groups = [[], [1, 2], [3], [4]]
    part_regions = torch.arange(4).repeat_interleave(8)[None].expand(32, 32)  # 4 column bands
    labelled = labeller.label_parts(image, part_regions, parts, groups, objects)
    with torch.no_grad():
        views = torch.stack([torch.where(part_regions == i, norm, torch.tensor(0.5))
                             for i in range(4)])
        sims = F.normalize(clip.encode_image(views), dim=-1) @ text(parts).T
    for i in range(4):
        obj = int(objects[0, 8 * i])
        want = groups[obj][int(sims[i, torch.tensor(groups[obj]) - 1].argmax())] \
            if groups[obj] else 0
        assert (labelled[part_regions == i] == want).all()


def test_image_jaccard_hand_case_and_torchmetrics():
    pred = torch.tensor([[0, 0], [1, 1]])
    gt = torch.tensor([[0, 1], [1, 1]])
    # class 0: 1 / 2, class 1: 2 / 3, class 2 absent from both: weighs nothing
    assert image_jaccard(pred, gt, 3) == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert np.isnan(image_jaccard(pred, torch.full_like(gt, 255), 3))
    gen = torch.Generator().manual_seed(0)
    for _ in range(25):
        n = int(torch.randint(2, 9, (1, ), generator=gen))
        shape = tuple(int(v) for v in torch.randint(3, 17, (2, ), generator=gen))
        pred = torch.randint(0, n, shape, generator=gen)
        gt = torch.randint(0, n, shape, generator=gen)
        gt[torch.rand(shape, generator=gen) < 0.2] = 255
        if (gt == 255).all():
            continue
        ref = MulticlassJaccardIndex(num_classes=n, ignore_index=255)(pred, gt).item()
        assert image_jaccard(pred, gt, n) == pytest.approx(ref, abs=1e-6)


def test_metric_per_image_mean_is_torchmetrics_per_image_mean():
    rng = np.random.default_rng(0)
    meta = dict(levels=('object', ), level_classes=dict(object=('background', 'a', 'b', 'c')))
    samples = [dict(pred_regions=dict(data=torch.as_tensor(rng.integers(0, 5, (1, 7, 9)))),
                    gt_seg_object=dict(data=torch.as_tensor(rng.integers(0, 4, (1, 7, 9)))))
               for _ in range(4)]
    metric = UnsupervisedRegionMetric(region_names=('regions', ))
    metric.dataset_meta = meta
    metric.process({}, samples)
    metrics = metric.compute_metrics(metric.results)
    jaccard = MulticlassJaccardIndex(num_classes=4, ignore_index=255)
    per_image = []
    for s in samples:
        from cast.evaluation.unsupervised import majority_labels
        gt = s['gt_seg_object']['data'][0]
        per_image.append(jaccard(majority_labels(s['pred_regions']['data'][0], gt, 4), gt))
    assert metrics['regions/object/mIoU_img'] == pytest.approx(100 * float(np.mean(per_image)))
    assert region_stats(samples[0]['pred_regions']['data'][0],
                        samples[0]['gt_seg_object']['data'][0], 4)['jaccard'] == \
        pytest.approx(float(per_image[0]))


@pytest.mark.parametrize('shape', [(7, 10), (10, 7), (6, 6), (9, 4)])
def test_center_crop_levels_is_torchvisions_center_crop(shape):
    """CenterCropLevels cuts what torchvision's CenterCrop (the reference's) cuts, from the
    image and every seg_fields map alike."""
    from torchvision.transforms.functional import center_crop

    from cast.datasets.transforms import CenterCropLevels
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, shape + (3, ), dtype=np.uint8)
    part = rng.integers(0, 5, shape, dtype=np.uint8)
    out = CenterCropLevels(5)(dict(img=img.copy(), gt_seg_part=part.copy(),
                                   seg_fields=['gt_seg_part']))
    size = [min(5, shape[0]), min(5, shape[1])]
    want = center_crop(torch.from_numpy(img).permute(2, 0, 1), size).permute(1, 2, 0).numpy()
    assert np.array_equal(out['img'], want) and out['img_shape'] == tuple(size)
    assert np.array_equal(out['gt_seg_part'],
                          center_crop(torch.from_numpy(part)[None], size)[0].numpy())
    with pytest.raises(ValueError, match='crop_size'):
        CenterCropLevels((5, 0))


def test_metric_with_labeller_equals_labelling_by_hand(tiny_weights):
    """UnsupervisedRegionMetric(labeller=...): objects named on the coarse regions (RGB from
    the BGR inputs), parts on the fine ones among their object's parts, scored per image."""
    labeller = CLIPRegionLabeller(tiny_weights['state_dict'], model=TINY_CLIP)
    meta = dict(levels=('object', 'part'),
                level_classes=dict(object=('background', 'cat', 'car'),
                                   part=('background', 'cat head', 'cat tail', 'car tire')),
                level_parents=dict(part=[0, 1, 1, 2]))
    metric = UnsupervisedRegionMetric(labeller=labeller, region_names=('fine', 'coarse'))
    metric.dataset_meta = meta
    gen = torch.Generator().manual_seed(3)
    bgr = torch.randint(0, 256, (2, 3, 20, 24), generator=gen, dtype=torch.uint8)
    samples, expected = [], {'object': [], 'part': []}
    for b in range(2):
        fine = torch.randint(0, 6, (20, 24), generator=gen)
        coarse = fine // 3
        gts = dict(object=torch.randint(0, 3, (20, 24), generator=gen),
                   part=torch.randint(0, 4, (20, 24), generator=gen))
        samples.append(dict(pred_regions=dict(data=torch.stack([fine, coarse])),
                            **{f'gt_seg_{lv}': dict(data=gt[None]) for lv, gt in gts.items()}))
        rgb = bgr[b].flip(0)
        objects = labeller.label_regions(rgb, coarse, ['cat', 'car'], 'Background')
        parts = labeller.label_parts(rgb, fine, ['cat head', 'cat tail', 'car tire'],
                                     [[], [1, 2], [3]], objects)
        expected['object'].append(image_jaccard(objects, gts['object'], 3))
        expected['part'].append(image_jaccard(parts, gts['part'], 4))
    metric.process(dict(inputs=bgr), samples)
    metrics = metric.compute_metrics(metric.results)
    assert metrics['coarse/object/mIoU_img'] == pytest.approx(100 * np.mean(expected['object']))
    assert metrics['fine/part/mIoU_img'] == pytest.approx(100 * np.mean(expected['part']))
    assert 'coarse/part/mIoU' not in metrics and 'fine/object/mIoU' not in metrics
    assert 'coarse/object/IoU.car' in metrics


def test_visualize_hierarchy_names_regions(tiny_weights, tiny_config_dir, tmp_path, capsys):
    """tools/visualize_hierarchy.py --labeller clip: the coarsest level's regions named with
    the vocabulary (or background) as name_regions gives them, and a picture with the tags."""
    import cv2

    from cast.apis import HierarchyPredictor
    rng = np.random.default_rng(0)
    image = str(tmp_path / 'scene.png')
    cv2.imwrite(image, rng.integers(0, 256, (64, 80, 3), dtype=np.uint8))
    (tmp_path / 'objects.txt').write_text('cat\ncar\nfish\n')
    config = osp.join(tiny_config_dir, 'tiny_cast_deit.py')
    tool = load_tool('visualize_hierarchy.py')
    written = tool.main([image, config, 'random', '--out', str(tmp_path / 'vis'),
                         '--labeller', 'clip', '--clip-weights', tiny_weights['state_dict'],
                         '--clip-model', tiny_weights['config'],
                         '--vocabulary', str(tmp_path / 'objects.txt')])
    assert str(tmp_path / 'vis' / 'scene_named.png') in written
    assert cv2.imread(str(tmp_path / 'vis' / 'scene_named.png')).shape == (64, 80, 3)
    printed = capsys.readouterr().out.split('regions named: ')[1].splitlines()[0]
    levels = HierarchyPredictor(config, 'random')(cv2.imread(image))
    labeller = CLIPRegionLabeller(tiny_weights['state_dict'], model=TINY_CLIP)
    rgb = torch.from_numpy(cv2.imread(image)[..., ::-1].copy()).permute(2, 0, 1)
    names = labeller.name_regions(rgb, torch.from_numpy(levels[-1]), ['cat', 'car', 'fish'])
    assert printed == ', '.join(f'{r}: {n}' for r, n in sorted(names.items()))
    ids, scores = labeller.region_scores(rgb, torch.from_numpy(levels[-1]),
                                         ['cat', 'car', 'fish', 'Background'])
    assert [names[int(i)] for i in ids] == [['cat', 'car', 'fish', 'Background'][int(k)]
                                            for k in scores.argmax(1)]


def test_read_vocabulary(tmp_path):
    path = tmp_path / 'objects.txt'
    path.write_text('Quadruped\n\nCar Side Mirror\n')
    assert read_vocabulary(str(path)) == ['Quadruped', 'Car Side Mirror']
    path.write_text('a\na\n')
    with pytest.raises(ValueError, match="objects.txt names \\['a'\\] more than once"):
        read_vocabulary(str(path))


def test_tool_clip_labeller_end_to_end(tiny_weights, tiny_config_dir, tmp_path, capsys):
    """tools/eval_unsupervised.py --labeller clip on generated PartImageNet-format data: the
    paper's table, objects on the coarsest regions, parts on the next, every labelled part a
    part of the object found at its region (conditional), the per-image mIoU recomputed."""
    root = str(tmp_path / 'partimagenet')
    generate_synthetic_partimagenet(root, num_train=0, num_val=3, seed=0, min_size=64,
                                    max_size=80)
    (tmp_path / 'objects.txt').write_text('four-legged animal\ncar\nfish\n')
    tool = load_tool('eval_unsupervised.py')
    config = osp.join(tiny_config_dir, 'tiny_cast_deit.py')
    out = str(tmp_path / 'clip.json')
    args = [config, 'random', '--dataset', 'partimagenet', '--data-root', root, '--size', '64',
            '--center-crop', '64',
            '--labeller', 'clip', '--clip-weights', tiny_weights['torchscript'],
            '--clip-model', tiny_weights['config'], '--templates', 'reference', 'vild',
            '--vocabulary', f'object={tmp_path / "objects.txt"}', '--out', out]
    scores, _ = tool.main(args)
    printed = capsys.readouterr().out
    assert 'mIoU (per image)' in printed and 'pooled IoU per class' in printed
    assert set(scores) == {'stage4', 'stage3'}
    assert set(scores['stage4']) == {'object'} and set(scores['stage3']) == {'part'}
    for level in (scores['stage4']['object'], scores['stage3']['part']):
        assert 0 <= level['mIoU_img'] <= 100 and level['images'] == 3
    with open(out) as f:
        saved = json.load(f)
    assert saved['labeller']['templates'][0] == 'a photo of a {}'
    assert len(saved['labeller']['templates']) == 1 + len(VILD_TEMPLATES)
    with pytest.raises(SystemExit):  # the result is not overwritten behind the user's back
        tool.main(args)
    no_weights = [a for a in args[:-2] if a not in ('--clip-weights', tiny_weights['torchscript'])]
    with pytest.raises(SystemExit):  # --labeller clip without --clip-weights
        tool.main(no_weights)
    assert '--labeller clip needs --clip-weights FILE' in capsys.readouterr().err
    with pytest.raises(FileNotFoundError, match='missing.pt does not exist'):
        tool.main([a if a != tiny_weights['torchscript'] else str(tmp_path / 'missing.pt')
                   for a in args[:-2]])
