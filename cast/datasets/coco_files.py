"""Reading one COCO annotation file, checked, with errors that name the file and entry."""
import contextlib
import io
import json
import os.path as osp

from pycocotools.coco import COCO


def load_coco_file(path: str, expected: str = '') -> COCO:
    """Load a COCO JSON and check what the hierarchical datasets rely on.

    Checked: the file exists and is JSON; it has ``images``, ``annotations`` and
    ``categories``; every image has ``id``, ``file_name``, ``height``, ``width``; every
    annotation has ``image_id``, ``category_id``, ``segmentation``, and its image and category
    exist.

    Args:
        path (str): the JSON file.
        expected (str): what the caller expects there, added to the missing-file error.

    Returns:
        COCO: the indexed file (pycocotools' own index, quietly built).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'annotation file {path} does not exist'
                                f'{"; " + expected if expected else ""}')
    try:
        with open(path) as f:
            dataset = json.load(f)
    except ValueError as err:
        raise ValueError(f'annotation file {path} is not valid JSON: {err}') from err
    missing = [k for k in ('images', 'annotations', 'categories') if k not in dataset]
    if missing:
        raise ValueError(f'annotation file {path} has no {missing} (COCO format expected)')
    for im in dataset['images']:
        lacking = [k for k in ('id', 'file_name', 'height', 'width') if k not in im]
        if lacking:
            raise ValueError(f'{path}: image entry {im.get("id", im)} has no {lacking}')
    image_ids = {im['id'] for im in dataset['images']}
    cat_ids = {c['id'] for c in dataset['categories']}
    for ann in dataset['annotations']:
        for key in ('image_id', 'category_id', 'segmentation'):
            if key not in ann:
                raise ValueError(f'{path}: annotation {ann.get("id")} has no {key!r}')
        if ann['image_id'] not in image_ids:
            raise ValueError(f'{path}: annotation {ann.get("id")} has image_id '
                             f'{ann["image_id"]}, which is not in its "images"')
        if ann['category_id'] not in cat_ids:
            raise ValueError(f'{path}: annotation {ann.get("id")} has category_id '
                             f'{ann["category_id"]}, which is not in its "categories"')
    coco = COCO()
    coco.dataset = dataset
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco
