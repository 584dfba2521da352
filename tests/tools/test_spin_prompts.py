"""SPIN's prompt protocol end to end: tools/spin_prompts.py writes the prompts (and the ground
truth as answers), tools/eval_hierarchy.py scores COCO results files (--pred-format
coco-results) and label maps through the prompts (--from-label-maps)."""
import json
import os
import os.path as osp

import numpy as np
import pycocotools.mask as mask_utils
import pytest
from PIL import Image

from cast.datasets import generate_synthetic_spin
from cast.evaluation import prompts as P
from tests.helpers.spin_release import make_spin_release
from tests.helpers.tools import load_tool

SCORES = ('mIoU.object', 'mIoU.part', 'mIoU.subpart', 'SpCS_S2P', 'SpCS_P2O', 'SeCS')
LEVEL_WORDS = dict(object='wholes', part='parts', subpart='subparts')


@pytest.fixture(scope='module')
def tools():
    return load_tool('spin_prompts.py'), load_tool('eval_hierarchy.py')


@pytest.fixture(scope='module')
def spin(tmp_path_factory, tools):
    """Synthetic SPIN val split, its prompts, its ground truth as results files and as label
    maps."""
    prompts_tool, eval_tool = tools
    root = str(tmp_path_factory.mktemp('spin_prompts'))
    data_root = generate_synthetic_spin(osp.join(root, 'data'), num_train=0, num_val=3, seed=0,
                                        min_size=64, max_size=96)
    out = osp.join(root, 'prompts.jsonl')
    gt_results = osp.join(root, 'gt_results')
    counts = prompts_tool.main([data_root, '--split', 'val', '--out', out,
                                '--gt-results', gt_results])
    gt_maps = osp.join(root, 'gt_maps')
    eval_tool.main(['--write-gt-as-pred', gt_maps, *spin_args(data_root)])
    return dict(data_root=data_root, prompts=out, counts=counts, gt_results=gt_results,
                gt_maps=gt_maps)


def spin_args(data_root, *extra):
    return ['--dataset', 'spin', '--data-root', data_root, '--split', 'val', *extra]


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


def test_prompt_records(spin, tools):
    records = read_jsonl(spin['prompts'])
    dataset = tools[1].build_dataset('spin', spin['data_root'], 'val')
    assert len(records) == sum(spin['counts'].values())
    for index in range(len(dataset)):
        item = dataset[index]
        for level in ('object', 'part', 'subpart'):
            gt = np.asarray(item[f'gt_seg_{level}'])
            mine = [r for r in records if r['image_id'] == item['img_id'] and
                    r['level'] == level]
            assert [r['label'] for r in mine] == sorted(set(np.unique(gt).tolist()) - {0, 255})
            for r in mine:
                target = gt == r['label']
                x, y = r['point']
                assert target[y, x]
                assert r['bbox'] == P.mask_box(target) and r['area'] == int(target.sum())
                assert dataset.specs[level].cat2label[r['category_id']] == r['label']
                assert r['size'] == P.size_bin(r['area']) and r['prompt']


def test_ground_truth_answers_score_100(spin, tools, tmp_path):
    eval_tool = tools[1]
    out = str(tmp_path / 'm.json')
    metrics = eval_tool.main([spin['gt_results'], '--pred-format', 'coco-results',
                              *spin_args(spin['data_root'], '--out', out)])
    for key in SCORES:
        assert metrics[key] == 100, key
    with open(out) as f:
        assert json.load(f) == eval_tool.to_json(metrics)
    with pytest.raises(FileExistsError, match='--overwrite'):
        eval_tool.main([spin['gt_results'], '--pred-format', 'coco-results',
                        *spin_args(spin['data_root'], '--out', out)])
    assert metrics['missing.subpart'] == 0 and metrics['extra_answers'] == 0
    # one file with a level field, and one answer for a class the image does not hold
    entries = []
    for level, word in LEVEL_WORDS.items():
        with open(P.results_file(spin['gt_results'], level)) as f:
            entries += [dict(e, level=word) for e in json.load(f)]
    records = read_jsonl(spin['prompts'])
    first = records[0]
    held = {r['category_id'] for r in records if r['image_id'] == first['image_id'] and
            r['level'] == 'subpart'}
    dataset = eval_tool.build_dataset('spin', spin['data_root'], 'val')
    other = next(c for c in dataset.specs['subpart'].cat2label if c not in held)
    entries.append(dict(image_id=first['image_id'], category_id=other, level='subpart',
                        segmentation=entries[0]['segmentation'], score=0.3))
    single = tmp_path / 'all.json'
    single.write_text(json.dumps(entries))
    again = eval_tool.main([str(single), '--pred-format', 'coco-results',
                            *spin_args(spin['data_root'])])
    assert again['extra_answers'] == 1
    for key in SCORES:
        assert again[key] == 100, key


def test_label_map_answers_agree_with_the_label_map_metric(spin, tools, tmp_path):
    """Label maps shifted by 0 / 1 / 2 pixels at the object / part / subpart level (a
    permutation of pixels: every image keeps its class set, the levels disagree): SpCS and
    SeCS as the label-map metric gives them; mIoU averaged per class = its mIoU without
    background; the answers saved as results files score the same."""
    eval_tool = tools[1]
    pred = tmp_path / 'pred'
    for shift, level in enumerate(('object', 'part', 'subpart')):
        (pred / level).mkdir(parents=True)
        for name in os.listdir(osp.join(spin['gt_maps'], level)):
            label = np.array(Image.open(osp.join(spin['gt_maps'], level, name)))
            Image.fromarray(np.roll(label, shift, axis=1)).save(pred / level / name)
    args = spin_args(spin['data_root'])
    maps = eval_tool.main([str(pred), *args])
    saved = str(tmp_path / 'answers')
    by_prompt = eval_tool.main([str(pred), '--from-label-maps', '--save-results', saved, *args])
    by_class = eval_tool.main([str(pred), '--from-label-maps', '--averaging', 'category',
                               *args])
    for key in ('SpCS_S2P', 'SpCS_P2O', 'SeCS'):
        assert by_prompt[key] == by_class[key] == maps[key], key
    assert maps['SpCS_S2P'] < 100 and maps['SpCS_P2O'] < 100 and maps['SeCS'] < 100
    for level in ('object', 'part', 'subpart'):
        assert by_class[f'mIoU.{level}'] == maps[f'mIoU_nobg.{level}'], level
    assert by_prompt['mIoU.object'] == 100 and by_prompt['mIoU.subpart'] < 100
    assert by_prompt['SpCS_S2P_skipped'] == maps['SpCS_S2P_skipped']
    results = eval_tool.main([saved, '--pred-format', 'coco-results', *args])
    assert eval_tool.to_json(results) == eval_tool.to_json(by_prompt)  # nan as None
    with pytest.raises(FileExistsError, match='does not overwrite'):
        eval_tool.main([str(pred), '--from-label-maps', '--save-results', saved, *args])


def test_pycocotools_decodes_the_masks_the_tool_reads(spin, tools):
    dataset = tools[1].build_dataset('spin', spin['data_root'], 'val')
    items = {dataset[i]['img_id']: dataset[i] for i in range(len(dataset))}
    for level, word in LEVEL_WORDS.items():
        with open(P.results_file(spin['gt_results'], level)) as f:
            entries = json.load(f)
        label_of = dataset.specs[level].cat2label
        for i, entry in enumerate(entries):
            item = items[entry['image_id']]
            gt = np.asarray(item[f'gt_seg_{level}'])
            answer = P.decode_answers([dict(entry, label=label_of[entry['category_id']],
                                            where=f'entry {i}')], *gt.shape)[0]
            coco = mask_utils.decode(entry['segmentation']).astype(bool)
            assert np.array_equal(answer['mask'], coco)
            assert np.array_equal(coco, gt == label_of[entry['category_id']])
    # polygons and uncompressed RLE, as COCO results may hold them
    height, width = 12, 10
    polygon = [[1, 1, 8, 1, 8, 9, 1, 9]]
    expected = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects(polygon, height, width)))
    uncompressed = dict(size=[height, width], counts=[5, 7, 108])
    for segmentation, coco in ((polygon, expected.astype(bool)),
                               (uncompressed, mask_utils.decode(mask_utils.frPyObjects(
                                   uncompressed, height, width)).astype(bool))):
        mine = P.decode_answers([dict(label=1, score=1.0, segmentation=segmentation,
                                      where='x')], height, width)[0]['mask']
        assert coco.any() and np.array_equal(mine, coco)


def test_prompts_match_spin_api_rasters(tmp_path, tools):
    """On a release-format copy with overlapping masks and non-contiguous ids: the prompts of
    each image are the category ids in spin-api's raster, each prompt's box is its region's."""
    from spin import SPIN
    root = make_spin_release(str(tmp_path / 'release'), num_train=1, num_val=2, seed=5)
    prompts_tool = tools[0]
    out = str(tmp_path / 'prompts.jsonl')
    prompts_tool.main([root, '--split', 'val', '--out', out, '--levels', 'part', 'subpart'])
    records = read_jsonl(out)
    api = SPIN(osp.join(root, 'annotations'), osp.join(root, 'images'), split='val')
    backgrounds = dict(part=(api.parts, 40), subpart=(api.subparts, 0))
    image_ids = sorted({r['image_id'] for r in records})
    assert image_ids == sorted(api.parts.getImgIds())
    for img_id in image_ids:
        for level, (coco, background) in backgrounds.items():
            raster = api.rasterize_coco_segmentations(coco, img_id, background)
            mine = {r['category_id']: r for r in records
                    if r['image_id'] == img_id and r['level'] == level}
            assert set(mine) == set(np.unique(raster).tolist()) - {background}
            for cat_id, record in mine.items():
                assert record['bbox'] == P.mask_box(raster == cat_id)
                assert record['area'] == int((raster == cat_id).sum())


def test_bad_results_name_the_entry(spin, tools, tmp_path):
    eval_tool = tools[1]
    with open(P.results_file(spin['gt_results'], 'part')) as f:
        good = json.load(f)[0]
    args = ['--pred-format', 'coco-results', *spin_args(spin['data_root'])]
    cases = [
        (dict(good, segmentation=None), 'entry 1.*polygon list nor an RLE'),
        ({k: v for k, v in good.items() if k != 'segmentation'}, r"entry 1 has no \['segm"),
        (dict(good, category_id=12345), 'entry 1 has category_id 12345'),
        (dict(good, image_id=-7), 'entry 1 has image_id -7'),
        (dict(good, score='high'), "entry 1 has score 'high'"),
        (dict(good, segmentation=dict(size=[3, 3], counts=good['segmentation']['counts'])),
         'entry 1 .*RLE of size'),
    ]
    for bad, message in cases:
        folder = tmp_path / f'case{cases.index((bad, message))}'
        folder.mkdir()
        (folder / 'results_parts.json').write_text(json.dumps([good, bad]))
        with pytest.raises(ValueError, match=message):
            eval_tool.main([str(folder), *args])
    single = tmp_path / 'single.json'
    single.write_text(json.dumps([dict(good, level='parts'), good]))
    with pytest.raises(ValueError, match='entry 1 has level None'):
        eval_tool.main([str(single), *args])
    with pytest.raises(FileNotFoundError, match='results_subparts.json'):
        eval_tool.main([str(tmp_path), *args])
    with pytest.raises(FileExistsError, match='--overwrite'):
        tools[0].main([spin['data_root'], '--split', 'val', '--out', spin['prompts']])
