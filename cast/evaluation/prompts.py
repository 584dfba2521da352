"""SPIN's prompt protocol: one prompt per (image, level, ground-truth class), answered by a mask.

SPIN (https://arxiv.org/abs/2407.09686) scores models that do not predict label maps
(open-vocabulary and interactive segmenters: GLaMM, LISA, SAM with a box, ...): each is asked
for one class of one image at a time and answers with a mask. This module holds the three
parts of that protocol that need no model: the prompt records (:func:`image_prompts`), reading
the answers as COCO results files (:func:`load_results`, :func:`group_answers`), and the scores
(:func:`prompt_image_stats`, :func:`summarize`); :class:`~cast.evaluation.PromptMetric` is the
registered evaluator over them, ``tools/spin_prompts.py`` and ``tools/eval_hierarchy.py
--pred-format coco-results`` the command lines.

Conventions (what the paper leaves open is chosen here; docs/spin_prompts.md says so):

- A prompt's ground truth is ``G_l == k`` of the level's label map as
  :class:`~cast.datasets.SPINDataset` paints it (spin-api's rasterizer: file order, the later
  mask wins), so the class set and masks are those the label-map metric scores.
- Size bins from the ground-truth area A in pixels: small A <= 32 * 32 (the paper's "at most
  32x32"), medium A <= 96 * 96, large above (COCO's other boundary).
- Names: ``general`` is the class's own word ('eye', 'head', the superclass), ``specific``
  qualifies it by its chain ('quadruped head eye'; at the object level with
  ``object_level='class'`` the ImageNet class). A subpart or part class is of *kind* 'general'
  when another class of its level has the same general name under another parent (SPIN's 168
  general subparts such as 'mouth'), else 'specific' (a turtle body's 'shell').

Shape shorthand: H, W image size; P prompts of one level in one image; T (child, parent)
triples of one level pair in one image.
"""
import json
import math
import os
import os.path as osp
from collections import defaultdict
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import pycocotools.mask as mask_utils
import torch

from cast.datasets.coco_files import load_coco_file
from cast.datasets.masks import decode_segmentation, segmentation_problems
from cast.datasets.part_names import norm, split_subpart_name, superclass_of_part
from cast.structures import ClassHierarchy
from cast.utils.io import atomic_write

from . import functional as F

#: (name, largest area in pixels) of the size bins, small to large.
SIZE_BINS: Tuple[Tuple[str, float], ...] = (('small', 32 * 32), ('medium', 96 * 96),
                                            ('large', math.inf))
#: How SPIN's release names the level files (``spin_{split}_{word}.json``) and results files.
LEVEL_FILE_WORDS = dict(object='wholes', part='parts', subpart='subparts')
#: The prompt sentence per level, filled with the general names (the issue's example wording).
PROMPT_TEMPLATES = dict(object='the {object}', part="the part '{part}' of the {object}",
                        subpart="the subpart '{subpart}' of the {object}'s {part}")
AVERAGING = ('prompt', 'category')
ABSENT_PARENT = ('zero', 'skip')
DUPLICATES = ('union', 'max_score')
#: Columns of a per-prompt row from :func:`prompt_image_stats`.
PROMPT_COLUMNS = ('label', 'intersection', 'union', 'gt_area', 'answered')
#: Columns of a per-triple row: child class, ``|child AND parent|``, ``|child|``,
#: ``|parent|``, the child's ground-truth area.
TRIPLE_COLUMNS = ('label', 'intersection', 'child_area', 'parent_area', 'gt_area')


def present_classes(label_map: np.ndarray, ignore_index: int = 255) -> List[int]:
    """The classes of a (H, W) uint8 label map other than background and ``ignore_index``,
    increasing."""
    counts = np.bincount(np.asarray(label_map, np.uint8).ravel(), minlength=256)
    return [k for k in np.flatnonzero(counts).tolist() if k not in (0, ignore_index)]


def size_bin(area: int) -> str:
    """'small', 'medium' or 'large' for a ground-truth area in pixels (:data:`SIZE_BINS`)."""
    return next(name for name, top in SIZE_BINS if area <= top)


def mask_box(mask: np.ndarray) -> List[int]:
    """COCO box [x, y, w, h] (pixels, inclusive of the last row and column) of a (H, W) mask."""
    ys, xs = np.nonzero(mask)
    return [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1),
            int(ys.max() - ys.min() + 1)]


def inner_point(mask: np.ndarray) -> List[int]:
    """[x, y] of the mask pixel farthest from its border (first in raster order on ties): a
    point inside the mask even where the mask is not convex. ``mask``: (H, W) bool."""
    padded = np.pad(mask.astype(np.uint8), 1)
    dist = cv2.distanceTransform(padded, cv2.DIST_L2, 5)[1:-1, 1:-1]
    y, x = np.unravel_index(int(np.argmax(dist)), dist.shape)
    return [int(x), int(y)]


def class_names(meta: dict) -> Dict[str, List[Optional[dict]]]:
    """Names, prompt and kind of every class of every level of a SPIN ``dataset_meta``.

    Returns:
        dict: level -> list indexed by class (entry 0, background, is None) of
        ``dict(name, general, specific, prompt, kind, object, part)``; ``kind`` is None at the
        object level.
    """
    hierarchy = ClassHierarchy.from_meta(meta)
    levels = tuple(meta['levels'])
    classes = meta['level_classes']
    superclasses = list(meta.get('superclasses') or [])
    whole_supers = list(meta.get('whole_superclasses') or [])
    object_level = meta.get('object_level', 'superclass')
    out: Dict[str, List[Optional[dict]]] = {}
    objects = [None]
    for k, name in enumerate(classes[levels[0]][1:], 1):
        superclass = name
        if object_level == 'class' and k - 1 < len(whole_supers) and whole_supers[k - 1]:
            superclass = whole_supers[k - 1]
        objects.append(dict(name=str(name), general=norm(superclass), specific=norm(name),
                            object=norm(superclass), part=None, kind=None))
    out[levels[0]] = objects
    if len(levels) > 1:
        out[levels[1]] = _part_names(classes[levels[1]], hierarchy, levels, objects,
                                     superclasses)
    if len(levels) > 2:
        out[levels[2]] = _subpart_names(classes[levels[2]], hierarchy, levels, out[levels[1]])
    for level in levels[1:]:
        _set_kinds(out[level], hierarchy.parents[level])
    templates = dict(zip(levels, (PROMPT_TEMPLATES['object'], PROMPT_TEMPLATES['part'],
                                  PROMPT_TEMPLATES['subpart'])))
    for level in levels:
        for entry in out[level][1:]:
            entry['prompt'] = templates[level].format(
                object=entry['object'] or entry['general'], part=entry['part'],
                subpart=entry['general'])
    return out


def _part_names(names, hierarchy, levels, objects, superclasses) -> List[Optional[dict]]:
    out = [None]
    for k, name in enumerate(names[1:], 1):
        parents = [p for p in hierarchy.parents[levels[1]][k] if p]
        superclass = superclass_of_part(name, None, superclasses) if superclasses else None
        superclass = norm(superclass) if superclass else (
            objects[parents[0]]['object'] if parents else '')
        word = norm(name)
        if superclass and word.startswith(superclass + ' '):
            word = word[len(superclass) + 1:]
        out.append(dict(name=str(name), general=word, specific=f'{superclass} {word}'.strip(),
                        object=superclass, part=word))
    return out


def _subpart_names(names, hierarchy, levels, parts) -> List[Optional[dict]]:
    out = [None]
    for k, name in enumerate(names[1:], 1):
        parents = [p for p in hierarchy.parents[levels[2]][k] if p]
        part = parts[parents[0]] if parents else None
        fields = split_subpart_name(name)
        word = norm(fields[2]) if fields else norm(name)
        if fields is None and part is not None and word.startswith(part['specific'] + ' '):
            word = word[len(part['specific']) + 1:]
        obj = part['object'] if part else ''
        part_word = part['part'] if part else ''
        out.append(dict(name=str(name), general=word,
                        specific=' '.join(w for w in (obj, part_word, word) if w),
                        object=obj, part=part_word))
    return out


def _set_kinds(entries, parents) -> None:
    """'general' where the general name recurs under another parent, else 'specific'."""
    under = defaultdict(set)
    for k, entry in enumerate(entries[1:], 1):
        under[entry['general']].add(tuple(parents[k]))
    for entry in entries[1:]:
        entry['kind'] = 'general' if len(under[entry['general']]) > 1 else 'specific'


def image_prompts(image: dict, maps: Dict[str, np.ndarray], names: Dict[str, list],
                  category_ids: Dict[str, Dict[int, int]], ignore_index: int = 255) -> List[dict]:
    """The prompt records of one image: per level, one per class present in its label map.

    Args:
        image (dict): ``img_id``, ``img_path``, ``height``, ``width`` (a data-list entry).
        maps (dict[str, np.ndarray]): level -> (H, W) ground-truth label map.
        names (dict): :func:`class_names` of the dataset.
        category_ids (dict): level -> class -> the COCO ``category_id`` to answer with.
        ignore_index (int): label of ignored pixels. Default: 255.

    Returns:
        list[dict]: records, levels coarse -> fine, classes increasing: ``image_id``,
        ``file_name``, ``img_path``, ``height``, ``width``, ``level``, ``label``, ``category_id``,
        ``category_name``, ``names`` (general, specific), ``prompt``, ``kind``, ``area``,
        ``size``, ``bbox`` [x, y, w, h], ``point`` [x, y].
    """
    records = []
    stem = osp.splitext(osp.basename(image['img_path']))[0]
    for level, gt in maps.items():
        for k in present_classes(gt, ignore_index):
            mask = gt == k
            entry = names[level][k]
            area = int(np.count_nonzero(mask))
            records.append(dict(
                image_id=image['img_id'], file_name=stem, img_path=image['img_path'],
                height=int(image['height']), width=int(image['width']), level=level, label=k,
                category_id=category_ids[level][k], category_name=entry['name'],
                names=dict(general=entry['general'], specific=entry['specific']),
                prompt=entry['prompt'], kind=entry['kind'], area=area, size=size_bin(area),
                bbox=mask_box(mask), point=inner_point(mask)))
    return records


def answer_category_ids(dataset) -> Tuple[dict, dict]:
    """The ``category_id`` an answer names, for a :class:`~cast.datasets.SPINDataset`.

    Returns:
        tuple: level -> image id -> class -> the first category id (file order) of that class
        in the image; level -> class -> its smallest category id (a class the image holds only
        through another level's file, or several whole classes of one superclass).
    """
    per_image, fallback = {}, {}
    for level in dataset.LEVELS:
        spec = dataset.specs[level]
        table = defaultdict(dict)
        for ann in load_coco_file(spec.ann_file).dataset['annotations']:
            label = spec.cat2label.get(ann['category_id'])
            if label is not None:
                table[ann['image_id']].setdefault(label, ann['category_id'])
        per_image[level] = table
        fallback[level] = {}
        for cat_id, label in sorted(spec.cat2label.items()):
            fallback[level].setdefault(label, cat_id)
    return per_image, fallback


# ---- answers: COCO results files ------------------------------------------------------------


def results_file(folder: str, level: str) -> str:
    """``{folder}/results_{wholes|parts|subparts}.json``."""
    return osp.join(folder, f'results_{LEVEL_FILE_WORDS[level]}.json')


def level_of(value, levels: Sequence[str]) -> Optional[str]:
    """The level a ``level`` field names: a level ('subpart') or its file word ('subparts',
    'subpart'); None if neither."""
    text = str(value).lower()
    for level in levels:
        word = LEVEL_FILE_WORDS.get(level, level)
        if text in (level, word, word.rstrip('s')):
            return level
    return None


def _read_json_list(path: str) -> list:
    try:
        with open(path) as f:
            entries = json.load(f)
    except ValueError as err:
        raise ValueError(f'results file {path} is not valid JSON: {err}') from err
    if not isinstance(entries, list):
        raise ValueError(f'results file {path} holds a {type(entries).__name__}; expected a '
                         'list of {image_id, category_id, segmentation, score} (COCO results)')
    return entries


def load_results(pred: str, levels: Sequence[str]) -> Dict[str, List[Tuple[str, int, dict]]]:
    """Read the answers: a folder of ``results_{wholes,parts,subparts}.json`` or one file whose
    entries carry ``level``.

    Args:
        pred (str): the folder or the file.
        levels (Sequence[str]): the dataset's levels.

    Returns:
        dict: level -> [(file, index in the file, entry)]; only the levels answered (a folder's
        files that exist; the levels a single file's entries name).
    """
    out: Dict[str, list] = {}
    if osp.isdir(pred):
        for level in levels:
            path = results_file(pred, level)
            if osp.isfile(path):
                out[level] = [(path, i, e) for i, e in enumerate(_read_json_list(path))]
        if not out:
            raise FileNotFoundError(
                f'{pred} holds none of ' + ', '.join(osp.basename(results_file(pred, lv))
                                                     for lv in levels) +
                ' (one COCO results file per level; or give one file with a "level" field)')
        return out
    if not osp.isfile(pred):
        raise FileNotFoundError(f'results {pred} is neither a folder nor a file')
    for i, entry in enumerate(_read_json_list(pred)):
        value = entry.get('level') if isinstance(entry, dict) else None
        level = level_of(value, levels)
        if level is None:
            raise ValueError(f'{pred}: entry {i} has level {value!r}; in a single results file '
                             f'every entry needs "level", one of {tuple(levels)} (or '
                             f'{tuple(LEVEL_FILE_WORDS[lv] for lv in levels)})')
        out.setdefault(level, []).append((pred, i, entry))
    if not out:
        raise ValueError(f'results file {pred} is empty')
    return out


def check_entry(entry, where: str, image_sizes: Dict[int, Tuple[int, int]],
                cat2label: Dict[int, int]) -> Tuple[int, int, float]:
    """Check one results entry; returns (image id, class label, score).

    Raises:
        ValueError: naming ``where`` (file and entry index) and what was expected.
    """
    if not isinstance(entry, dict):
        raise ValueError(f'{where} is a {type(entry).__name__}; expected a dict with '
                         'image_id, category_id, segmentation, score')
    missing = [k for k in ('image_id', 'category_id', 'segmentation') if k not in entry]
    if missing:
        raise ValueError(f'{where} has no {missing} (COCO results: image_id, category_id, '
                         'segmentation, score)')
    img_id = entry['image_id']
    if img_id not in image_sizes:
        raise ValueError(f'{where} has image_id {img_id!r}, which is not an image of the '
                         'split scored')
    if entry['category_id'] not in cat2label:
        raise ValueError(f'{where} has category_id {entry["category_id"]!r}, which is not a '
                         'category of its level\'s annotation file')
    score = entry.get('score', 1.0)
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(
            score):
        raise ValueError(f'{where} has score {score!r}; expected a finite number')
    height, width = image_sizes[img_id]
    segmentation = entry['segmentation']
    fatal = [p for p in segmentation_problems(segmentation, height, width)
             if 'is not a flat list' in p or 'neither' in p or 'RLE of size' in p
             or 'empty polygon list' in p]
    if fatal:
        raise ValueError(f'{where} (image {img_id}): its segmentation ' + '; '.join(fatal))
    return img_id, cat2label[entry['category_id']], float(score)


def group_answers(results: Dict[str, list], image_sizes: Dict[int, Tuple[int, int]],
                  cat2label: Dict[str, Dict[int, int]]) -> Dict[int, Dict[str, list]]:
    """Check every entry and group them: image id -> level -> [answer] with ``label``,
    ``segmentation`` (not decoded yet), ``score``, ``category_id``, ``where``."""
    grouped: Dict[int, Dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for level, entries in results.items():
        for path, i, entry in entries:
            where = f'{path}: entry {i}'
            img_id, label, score = check_entry(entry, where, image_sizes, cat2label[level])
            grouped[img_id][level].append(dict(label=label, segmentation=entry['segmentation'],
                                               score=score, category_id=entry['category_id'],
                                               where=where))
    return grouped


def decode_answers(answers: Sequence[dict], height: int, width: int) -> List[dict]:
    """Decode the answers of one image and level with pycocotools; errors name the entry.

    Returns:
        list[dict]: ``label``, ``score``, ``mask`` (H, W) bool, ``category_id``, ``where``.
    """
    out = []
    for answer in answers:
        try:
            mask = decode_segmentation(answer['segmentation'], height, width)
        except Exception as err:
            raise ValueError(f"{answer['where']}: cannot decode its segmentation: "
                             f'{err}') from err
        out.append(dict(answer, mask=mask))
    return out


def label_map_answers(pred: np.ndarray, gt: np.ndarray, ignore_index: int = 255) -> List[dict]:
    """A label map's answers to an image's prompts: per class k of the ground truth ``gt``
    (H, W), the mask ``pred == k`` (H, W) with score 1. What a closed-set model answers."""
    return [dict(label=k, mask=np.asarray(pred) == k, score=1.0)
            for k in present_classes(gt, ignore_index)]


def encode_mask(mask: np.ndarray) -> dict:
    """Compressed RLE (JSON-ready: ``counts`` as str) of a (H, W) bool mask."""
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return dict(size=[int(v) for v in rle['size']], counts=rle['counts'].decode('ascii'))


def write_json_atomic(obj, path: str, overwrite: bool = False,
                      indent: Optional[int] = None) -> None:
    """Write JSON whole or not at all (:func:`cast.utils.atomic_write`); an existing ``path``
    is refused unless ``overwrite``."""
    if osp.exists(path) and not overwrite:
        raise FileExistsError(f'{path} exists; not overwriting it (remove it, or choose '
                              'another path)')
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with atomic_write(path) as f:
        json.dump(obj, f, indent=indent)


# ---- scores ---------------------------------------------------------------------------------


def merge_answers(answers: Sequence[dict], duplicates: str = 'union'
                  ) -> Tuple[Dict[int, np.ndarray], Dict[int, float], int]:
    """One mask per class from an image's decoded answers at one level.

    Args:
        answers (Sequence[dict]): ``label``, ``mask`` (H, W) bool, ``score``.
        duplicates (str): several answers for one class: 'union' of their masks, or the one
            with the highest 'max_score' (the first on ties). Default: 'union'.

    Returns:
        tuple: class -> (H, W) bool mask, class -> score (the highest), number of answers
        beyond the first for a class.
    """
    if duplicates not in DUPLICATES:
        raise ValueError(f'duplicates must be one of {DUPLICATES}, got {duplicates!r}')
    masks, scores, extra = {}, {}, 0
    for answer in answers:
        k, mask, score = int(answer['label']), np.asarray(answer['mask'], bool), answer['score']
        if k not in masks:
            masks[k], scores[k] = mask, score
            continue
        extra += 1
        if duplicates == 'union':
            masks[k] = masks[k] | mask  # a new array: the answers stay as given
        elif score > scores[k]:
            masks[k] = mask
        scores[k] = max(scores[k], score)
    return masks, scores, extra


def paint_answers(masks: Dict[int, np.ndarray], scores: Dict[int, float],
                  shape: Tuple[int, int]) -> np.ndarray:
    """A (H, W) label map of one level's answers: the higher score on top (equal scores: the
    higher class), 0 where no answer covers a pixel. For SeCS."""
    label_map = np.zeros(shape, np.uint8)
    for k in sorted(masks, key=lambda c: (scores[c], c)):
        label_map[masks[k]] = k
    return label_map


def prompt_terms(gt: np.ndarray, masks: Dict[int, np.ndarray],
                 ignore_index: int = 255) -> np.ndarray:
    """Per prompt of one image and level: its IoU terms.

    Args:
        gt (np.ndarray): (H, W) ground-truth label map; its classes other than 0 and
            ``ignore_index`` are the prompts.
        masks (dict): class -> (H, W) bool answer; a class without one answered empty.
        ignore_index (int): ground-truth pixels left out of intersection and union.

    Returns:
        np.ndarray: (P, 5) int64, :data:`PROMPT_COLUMNS`.
    """
    valid = gt != ignore_index
    count = np.count_nonzero
    rows = []
    for k in present_classes(gt, ignore_index):
        target = gt == k
        area = count(target)
        answer = masks.get(k)
        if answer is None:
            rows.append((k, 0, area, area, 0))
            continue
        answer = answer & valid
        inter = count(answer & target)
        rows.append((k, inter, count(answer) + area - inter, area, 1))
    return np.asarray(rows, np.int64).reshape(-1, len(PROMPT_COLUMNS))


def triple_terms(child_terms: np.ndarray, child_masks: Dict[int, np.ndarray],
                 parent_masks: Dict[int, np.ndarray], relation: np.ndarray,
                 shape: Tuple[int, int]) -> np.ndarray:
    """SpCS terms of one image's (child, parent) triples: for every child prompt k, its answer
    against the union of the answers of its parent classes (over all pixels, as the label-map
    SpCS).

    Args:
        child_terms (np.ndarray): (P, 5) :func:`prompt_terms` of the child level.
        child_masks (dict): child class -> (H, W) bool answer.
        parent_masks (dict): parent class -> (H, W) bool answer (only the parent prompts').
        relation (np.ndarray): (N_c, N_p) bool child -> parent classes.
        shape (tuple): (H, W).

    Returns:
        np.ndarray: (T, 5) int64, :data:`TRIPLE_COLUMNS`.
    """
    count = np.count_nonzero
    rows = []
    for k, gt_area in zip(child_terms[:, 0].tolist(), child_terms[:, 3].tolist()):
        child = child_masks.get(k)
        found = [parent_masks[p] for p in np.flatnonzero(relation[k]).tolist()
                 if p in parent_masks]
        parent = found[0] if len(found) == 1 else np.logical_or.reduce(found) if found \
            else None
        if child is None or parent is None:
            rows.append((k, 0, 0 if child is None else count(child),
                         0 if parent is None else count(parent), gt_area))
            continue
        rows.append((k, count(child & parent), count(child), count(parent), gt_area))
    return np.asarray(rows, np.int64).reshape(-1, len(TRIPLE_COLUMNS))


def prompt_image_stats(gts: Dict[str, np.ndarray], answers: Dict[str, Sequence[dict]],
                       hierarchy: ClassHierarchy, duplicates: str = 'union',
                       ignore_index: int = 255, secs: bool = False,
                       valid_chain: Optional[torch.Tensor] = None) -> dict:
    """Every count of one image the prompt scores need.

    Args:
        gts (dict): level -> (H, W) ground-truth label map, for the levels scored.
        answers (dict): level -> decoded answers (``label``, ``mask``, ``score``); a level
            without an entry is answered by nothing.
        hierarchy (ClassHierarchy): the dataset's hierarchy (its levels ⊇ ``gts``'s).
        duplicates (str): see :func:`merge_answers`. Default: 'union'.
        ignore_index (int): ground-truth ignore value. Default: 255.
        secs (bool): also count SeCS over the painted answers of all hierarchy levels.
        valid_chain (Tensor, optional): ``hierarchy.chain_mask(extra=1)``, cached.

    Returns:
        dict: ``prompts`` {level: (P, 5)}, ``triples`` {child level: (T, 5)} for the adjacent
        pairs scored, ``secs`` (2,) when asked, ``extra`` [(level, class)] answers for classes
        not prompted (ignored), ``duplicates`` int.
    """
    merged, scores, out = {}, {}, dict(prompts={}, triples={}, extra=[], duplicates=0)
    for level, gt in gts.items():
        present = set(present_classes(gt, ignore_index))
        kept = [a for a in answers.get(level, ()) if int(a['label']) in present]
        out['extra'] += [(level, int(a['label'])) for a in answers.get(level, ())
                         if int(a['label']) not in present]
        merged[level], scores[level], dup = merge_answers(kept, duplicates)
        out['duplicates'] += dup
        out['prompts'][level] = prompt_terms(gt, merged[level], ignore_index)
    for child in hierarchy.levels[1:]:
        parent = hierarchy.parent_level(child)
        if child in gts and parent in gts:
            relation = hierarchy.relation(child).numpy()
            out['triples'][child] = triple_terms(out['prompts'][child], merged[child],
                                                 merged[parent], relation,
                                                 gts[child].shape)
    if secs:
        shape = next(iter(gts.values())).shape
        painted = [torch.from_numpy(paint_answers(merged[lv], scores[lv], shape))
                   for lv in hierarchy.levels]
        num_classes = [hierarchy.num_classes[lv] for lv in hierarchy.levels]
        stats = F.hierarchical_stats(painted, [None] * len(painted), num_classes, hierarchy,
                                     secs=True, ignore_index=ignore_index,
                                     valid_chain=valid_chain)
        out['secs'] = stats['secs']
    return out


def _mean_iou(rows: np.ndarray, averaging: str) -> float:
    """mIoU x100 of (P, 5) prompt rows; nan without rows."""
    if not len(rows):
        return float('nan')
    if averaging == 'prompt':
        return 100 * math.fsum(rows[:, 1] / rows[:, 2]) / len(rows)
    ious = []
    for k in np.unique(rows[:, 0]):
        sel = rows[rows[:, 0] == k]
        ious.append(sel[:, 1].sum() / sel[:, 2].sum())
    return 100 * math.fsum(ious) / len(ious)


def _spcs(rows: np.ndarray, absent_parent: str) -> Tuple[float, int, int]:
    """(SpCS x100, skipped for an empty child, skipped or zero for an empty parent)."""
    child = rows[:, 2]
    no_parent = (child > 0) & (rows[:, 3] == 0)
    kept = child > 0
    if absent_parent == 'skip':
        kept &= rows[:, 3] > 0
    score = 100 * math.fsum(rows[kept, 1] / child[kept]) / kept.sum() if kept.any() else \
        float('nan')
    return score, int((child == 0).sum()), int(no_parent.sum())


def _subset(rows: np.ndarray, names: List[Optional[dict]], group: str, area_col: int):
    """Rows of one size bin or one name kind."""
    if group in dict(SIZE_BINS):
        keep = [size_bin(int(a)) == group for a in rows[:, area_col]]
    else:
        keep = [names[int(k)]['kind'] == group for k in rows[:, 0]]
    return rows[np.asarray(keep, bool)] if len(rows) else rows


def summarize(records: Sequence[dict], levels: Sequence[str], pair_names: Dict[str, str],
              names: Dict[str, list], averaging: str = 'prompt',
              absent_parent: str = 'zero') -> Dict[str, float]:
    """The scores over all images from the :func:`prompt_image_stats` records.

    Keys (x100, rounded to 2 decimals; nan where nothing is counted): ``mIoU.{level}``,
    ``SpCS_{pair}`` (``pair_names``: child level -> 'S2P', ...), ``SeCS`` (when counted); each
    also per size bin and, below the object level, per name kind (``mIoU.subpart.small``,
    ``SpCS_S2P.general``). Counts: ``prompts.{level}``, ``missing.{level}`` (no answer),
    ``SpCS_{pair}_skipped`` (empty child answer), ``SpCS_{pair}_no_parent`` (empty parent
    answers: scored 0 with ``absent_parent='zero'``, left out with 'skip'),
    ``extra_answers``, ``duplicate_answers``.
    """
    if averaging not in AVERAGING:
        raise ValueError(f'averaging must be one of {AVERAGING}, got {averaging!r}')
    if absent_parent not in ABSENT_PARENT:
        raise ValueError(f'absent_parent must be one of {ABSENT_PARENT}, got {absent_parent!r}')
    metrics: Dict[str, float] = {}
    groups = [name for name, _ in SIZE_BINS] + ['general', 'specific']

    def stack(key, level, width):
        rows = [r[key][level] for r in records if level in r[key]]
        return np.concatenate(rows) if rows else np.zeros((0, width), np.int64)

    for level in levels:
        rows = stack('prompts', level, len(PROMPT_COLUMNS))
        metrics[f'mIoU.{level}'] = round(_mean_iou(rows, averaging), 2)
        for group in groups:
            if group in ('general', 'specific') and names[level][1:] and \
                    names[level][1]['kind'] is None:
                continue
            metrics[f'mIoU.{level}.{group}'] = round(
                _mean_iou(_subset(rows, names[level], group, 3), averaging), 2)
        metrics[f'prompts.{level}'] = int(len(rows))
        metrics[f'missing.{level}'] = int((rows[:, 4] == 0).sum()) if len(rows) else 0
    for child, pair in pair_names.items():
        if not any(child in r['triples'] for r in records):
            continue
        rows = stack('triples', child, len(TRIPLE_COLUMNS))
        score, skipped, no_parent = _spcs(rows, absent_parent)
        metrics[f'SpCS_{pair}'] = round(score, 2)
        for group in groups:
            metrics[f'SpCS_{pair}.{group}'] = round(
                _spcs(_subset(rows, names[child], group, 4), absent_parent)[0], 2)
        metrics[f'SpCS_{pair}_skipped'] = skipped
        metrics[f'SpCS_{pair}_no_parent'] = no_parent
    if records and all('secs' in r for r in records):
        counts = sum((r['secs'] for r in records), np.zeros(2, np.int64))
        metrics['SeCS'] = round(F.semantic_consistency_score(counts), 2)
    metrics['extra_answers'] = sum(len(r['extra']) for r in records)
    metrics['duplicate_answers'] = sum(r['duplicates'] for r in records)
    return metrics
