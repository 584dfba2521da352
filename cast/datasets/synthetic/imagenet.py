"""A small ImageNet-layout classification folder drawn from the synthetic scenes.

The scenes of :class:`~cast.datasets.synthetic.SceneGenerator` (quadrupeds, cars
and fish, with parts and subparts, on textured backgrounds) labelled by the
object with the largest visible area, written as MMPretrain's ``ImageNet``
dataset reads them::

    out_dir/
    ├── train/
    │   ├── n90000001/n90000001_000001.JPEG   # label='class': 6 classes
    │   └── ...                               # label='superclass': 3 folders
    ├── val/
    │   └── n90000001/...
    ├── meta/
    │   ├── classes.txt     # class names, in the (sorted) folder order
    │   ├── train.txt       # "n90000001/n90000001_000001.JPEG 0" per image
    │   └── val.txt
    └── synthetic_imagenet_manifest.json

Use it with ``dict(type='ImageNet', data_root=out_dir, split='train',
classes=out_dir + '/meta/classes.txt')`` (``classes`` is needed because
MMPretrain's ``ImageNet`` otherwise expects the 1000 ImageNet classes).
Every class folder exists in every split, possibly empty.

For the same ``seed`` the scenes differ from those of
:func:`~cast.datasets.synthetic.generate_synthetic_spin`, so a classifier
trained here can be evaluated on a synthetic SPIN set without overlap.

    python -m cast.datasets.synthetic.imagenet OUT_DIR [--num-train 600
        --num-val 60 --label superclass --min-size 80 --max-size 112]
"""
import argparse
import os.path as osp
from typing import Dict, List, Tuple

import cv2
import numpy as np
from mmengine.logging import print_log
from mmengine.utils import mkdir_or_exist

from .output import OutputFolder
from .scenes import SceneGenerator
from .taxonomy import SYNTHETIC_TAXONOMY

GENERATOR_VERSION = 1
LABELS = ('class', 'superclass')
# Offsets the random streams so that a seed never repeats a synthetic SPIN
# scene (that generator uses [seed, split_index, index]).
STREAM_OFFSET = 1000


def synthetic_imagenet_classes(label: str = 'class') -> List[Tuple[str, str]]:
    """The (wnid, name) pairs of a labelling, sorted by wnid (folder order).

    Args:
        label (str): 'class' (the 6 object classes, their synthetic synsets)
            or 'superclass' (Quadruped, Car, Fish as ``n91000001..3``).

    Returns:
        list[tuple[str, str]]: (wnid, name) in label-index order.
    """
    if label not in LABELS:
        raise ValueError(f'label must be one of {LABELS}, got {label!r}')
    if label == 'class':
        pairs = [pair for spec in SYNTHETIC_TAXONOMY.values()
                 for pair in spec['classes']]
    else:
        pairs = [(f'n9100000{i + 1}', superclass)
                 for i, superclass in enumerate(SYNTHETIC_TAXONOMY)]
    return sorted(pairs)


def scene_label(scene: dict, label: str) -> str:
    """The wnid of a scene: that of its object with the largest visible area."""
    obj = max(scene['objects'], key=lambda o: int(o['mask'].sum()))
    if label == 'class':
        return obj['synset']
    index = list(SYNTHETIC_TAXONOMY).index(obj['superclass'])
    return f'n9100000{index + 1}'


def generate_synthetic_imagenet(out_dir: str,
                                num_train: int = 60,
                                num_val: int = 12,
                                seed: int = 0,
                                label: str = 'class',
                                min_size: int = 64,
                                max_size: int = 96) -> Dict[str, int]:
    """Write the ImageNet-layout folder described in the module docstring.

    The same arguments give identical files; calling again on a complete
    folder does nothing. A folder with other files, or made with other
    arguments, raises ``FileExistsError``.

    Args:
        out_dir (str): output folder (created).
        num_train (int): training images. Defaults to 60.
        num_val (int): validation images. Defaults to 12.
        seed (int): random seed. Defaults to 0.
        label (str): 'class' or 'superclass'. Defaults to 'class'.
        min_size (int): smallest image side (>= 16). Defaults to 64.
        max_size (int): largest image side. Defaults to 96.

    Returns:
        dict[str, int]: images per class wnid over both splits.
    """
    classes = synthetic_imagenet_classes(label)
    if num_train < 1 or num_val < 0:
        raise ValueError(f'need num_train >= 1 and num_val >= 0, got '
                         f'{num_train}, {num_val}')
    generator = SceneGenerator(min_size, max_size)
    params = dict(generator='cast.datasets.synthetic.imagenet',
                  version=GENERATOR_VERSION, seed=int(seed), label=label,
                  num_train=int(num_train), num_val=int(num_val),
                  min_size=int(min_size), max_size=int(max_size))
    folder = OutputFolder(out_dir, 'synthetic_imagenet', params)
    if folder.state(owned=[osp.join('meta', f) for f in ('classes.txt', 'train.txt',
                                                           'val.txt')]) == 'complete':
        print_log(f'synthetic ImageNet in {out_dir} is complete',
                  logger='current')
        return folder.read_manifest()['counts']
    folder.start()
    mkdir_or_exist(osp.join(out_dir, 'meta'))

    index_of = {wnid: i for i, (wnid, _) in enumerate(classes)}
    counts = {wnid: 0 for wnid, _ in classes}
    for split_index, (split, num) in enumerate(
            (('train', num_train), ('val', num_val))):
        for wnid, _ in classes:
            mkdir_or_exist(osp.join(out_dir, split, wnid))
        lines = []
        for index in range(num):
            rng = np.random.default_rng(
                [int(seed), STREAM_OFFSET + split_index, index])
            scene = generator(rng)
            wnid = scene_label(scene, label)
            name = f'{wnid}_{split_index * 100000 + index + 1:06d}.JPEG'
            cv2.imwrite(osp.join(out_dir, split, wnid, name), scene['img'],
                        [cv2.IMWRITE_JPEG_QUALITY, 92])
            lines.append(f'{wnid}/{name} {index_of[wnid]}\n')
            counts[wnid] += 1
        with open(osp.join(out_dir, 'meta', f'{split}.txt'), 'w') as f:
            f.writelines(lines)
    with open(osp.join(out_dir, 'meta', 'classes.txt'), 'w') as f:
        f.writelines(f'{name}\n' for _, name in classes)
    folder.finish(counts=counts)
    print_log(f'synthetic ImageNet ({label}) written to {out_dir}: {counts}',
              logger='current')
    return counts


def main(argv=None):
    parser = argparse.ArgumentParser(
        description='Write a small ImageNet-layout folder of synthetic scenes')
    parser.add_argument('out_dir', metavar='OUT_DIR')
    parser.add_argument('--num-train', type=int, default=60)
    parser.add_argument('--num-val', type=int, default=12)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--label', choices=LABELS, default='class',
                        help='class: 6 object classes; superclass: 3')
    parser.add_argument('--min-size', type=int, default=64)
    parser.add_argument('--max-size', type=int, default=96)
    args = parser.parse_args(argv)
    counts = generate_synthetic_imagenet(args.out_dir, args.num_train,
                                         args.num_val, args.seed, args.label,
                                         args.min_size, args.max_size)
    print(f'{args.out_dir}: images per class {counts}')


if __name__ == '__main__':
    main()
