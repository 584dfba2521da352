"""Rename official CAST checkpoints (twke18/CAST) to this project's keys.

Accepted layouts (the encoder is found by its ConvStem key
``<prefix>patch_embed.proj.0.weight``):

- MoCo v3 pre-training: ``{'state_dict': {'module.base_encoder.*',
  'module.momentum_encoder.*', 'module.predictor.*'}}``; the base encoder is
  kept.
- DeiT: ``{'model': {...}}`` with the encoder keys at the top level.
- Segmenter fine-tuning: ``{'model': {'encoder.*', 'decoder.*'}}``.
- A bare state dict of any of these, or one already in our layout (keys
  ``[backbone.]patch_embed.convs.0.conv.weight`` ..., with a ``neck.`` of
  :class:`~cast.necks.BlockFusionNeck` beside ``backbone.``).

The reference lists every transformer block twice, as ``blocks.N`` and as its
stage view ``blocks{1..4}.M``; both must hold equal tensors and one copy is
kept. The encoder's ``block_fusion`` (segmentation models, ``cast_seg*.py``)
becomes the keys of :class:`~cast.necks.BlockFusionNeck` (``norm.*``,
``proj.*``); the Segmenter decoder becomes the keys of
:class:`~cast.heads.SuperpixelSegmenterHead`. Other keys outside the backbone
(classification or projection heads, the momentum encoder) are dropped and
listed in the report; an unknown encoder or decoder key is an error.
"""
import math
import re
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmpretrain.models.utils import build_2d_sincos_position_embedding, resize_pos_embed

STEM_KEY = 'patch_embed.proj.0.weight'
OUR_STEM_KEY = 'patch_embed.convs.0.conv.weight'
# Encoder keys that are not part of the backbone.
NON_BACKBONE = ('head.', 'head_dist.', 'pre_logits.', 'dist_token', 'fc.')
# The reference's BlockFusion: proj_blocks = (BatchNorm1d wrapper, Dropout,
# Linear) -> BlockFusionNeck's norm and proj.
FUSION_RENAMES = (('block_fusion.proj_blocks.0.norm.', 'norm.'),
                  ('block_fusion.proj_blocks.2.', 'proj.'))
# The reference's Segmenter MaskTransformer -> SegmenterMaskTransformerHead.
DECODER_RENAMES = (('cls_emb', 'cls_emb'), ('proj_dec.', 'dec_proj.'),
                   ('decoder_norm.', 'decoder_norm.'),
                   ('mask_norm.', 'mask_norm.'))
DECODER_BLOCK_RENAMES = (('norm1.', 'ln1.'), ('norm2.', 'ln2.'),
                         ('attn.qkv.weight', 'attn.attn.in_proj_weight'),
                         ('attn.qkv.bias', 'attn.attn.in_proj_bias'),
                         ('attn.proj.', 'attn.attn.out_proj.'),
                         ('mlp.fc1.', 'ffn.layers.0.0.'),
                         ('mlp.fc2.', 'ffn.layers.1.'))
BLOCK_RENAMES = (('norm1.', 'ln1.'), ('norm2.', 'ln2.'),
                 ('mlp.fc1.', 'ffn.layers.0.0.'),
                 ('mlp.fc2.', 'ffn.layers.1.'), ('attn.qkv.', 'attn.qkv.'),
                 ('attn.proj.', 'attn.proj.'))


def unwrap_state_dict(checkpoint: dict) -> Dict[str, torch.Tensor]:
    """The state dict inside a checkpoint (``state_dict`` / ``model`` /
    bare)."""
    if not isinstance(checkpoint, dict):
        raise TypeError('checkpoint must be a dict, got '
                        f'{type(checkpoint).__name__}')
    for key in ('state_dict', 'model'):
        if key in checkpoint and isinstance(checkpoint[key], dict):
            return checkpoint[key]
    if checkpoint and all(torch.is_tensor(v) for v in checkpoint.values()):
        return checkpoint
    raise KeyError('no state dict in checkpoint: expected a "state_dict" or '
                   '"model" entry or tensors, got keys '
                   f'{sorted(checkpoint)[:10]}')


def _find_prefix(keys: Sequence[str], marker: str) -> Optional[str]:
    prefixes = [k[:-len(marker)] for k in keys if k.endswith(marker)]
    if not prefixes:
        return None
    for preferred in ('base_encoder.', 'encoder.', 'backbone.'):
        for prefix in prefixes:
            if prefix.endswith(preferred) and 'momentum' not in prefix:
                return prefix
    return sorted(prefixes, key=len)[0]


def _rename_block(rest: str, where: str) -> str:
    for old, new in BLOCK_RENAMES:
        if rest.startswith(old):
            return new + rest[len(old):]
    raise KeyError(f'unknown transformer block key {where!r}')


def _rename_stem(rest: str, where: str) -> str:
    match = re.fullmatch(r'(\d+)\.(.+)', rest)
    if match is None:
        raise KeyError(f'unknown ConvStem key {where!r}')
    index, param = int(match.group(1)), match.group(2)
    if index == 12:
        return f'patch_embed.proj.{param}'
    if index < 12 and index % 3 in (0, 1):
        module = 'conv' if index % 3 == 0 else 'bn'
        return f'patch_embed.convs.{index // 3}.{module}.{param}'
    raise KeyError(f'unknown ConvStem key {where!r}')


def _is_sincos(pos_embed: torch.Tensor) -> bool:
    """Whether a (1, g*g, C) table is the fixed 2D sin-cos one."""
    side = math.isqrt(pos_embed.shape[1])
    if side * side != pos_embed.shape[1]:
        return True  # non-square grid: cannot check; MoCo tables are fixed
    table = build_2d_sincos_position_embedding(side, pos_embed.shape[2])
    return torch.allclose(pos_embed.float(), table, atol=1e-5)


def convert_cast_checkpoint(
        checkpoint: dict,
        depths: Optional[Sequence[int]] = None,
        grid_size: Optional[Tuple[int, int]] = None
) -> Tuple['OrderedDict[str, torch.Tensor]', dict]:
    """Convert an official CAST checkpoint to :class:`CAST` keys.

    Args:
        checkpoint (dict): the loaded checkpoint (any accepted layout).
        depths (Sequence[int], optional): blocks per stage; only needed when
            the checkpoint lacks the ``blocks{1..4}.M`` stage views.
        grid_size (tuple[int, int], optional): resize a learned position
            table to this grid (``img_size // 8``). CAST also resizes a square
            table when loading, so this is optional.

    Returns:
        tuple: the converted backbone state dict and a report dict with
        ``prefix``, ``depths``, ``pos_embed_type`` ('learned' or 'sincos'),
        ``neck`` and ``decode_head`` (state dicts of
        :class:`~cast.necks.BlockFusionNeck` and
        :class:`~cast.heads.SuperpixelSegmenterHead`, empty when the
        checkpoint has no ``block_fusion`` or decoder) and ``dropped`` (list
        of dropped keys).
    """
    state = unwrap_state_dict(checkpoint)
    keys = list(state)
    ours = _find_prefix(keys, OUR_STEM_KEY)
    if ours is not None and _find_prefix(keys, STEM_KEY) is None:
        return _split_converted(state, ours)
    prefix = _find_prefix(keys, STEM_KEY)
    if prefix is None:
        raise KeyError(f'no CAST encoder found: no key ends with {STEM_KEY!r} '
                       f'(first keys: {keys[:5]})')
    neck, decode_head = OrderedDict(), OrderedDict()
    decoder = (prefix[:-len('encoder.')] + 'decoder.'
               if prefix == 'encoder.' or prefix.endswith('.encoder.') else
               None)
    dropped = []
    for key, value in state.items():
        if key.startswith(prefix):
            continue
        if decoder is not None and key.startswith(decoder):
            name, value = _rename_decoder(key[len(decoder):], value, key)
            decode_head[name] = value
        else:
            dropped.append(key)
    encoder = OrderedDict(
        (k[len(prefix):], v) for k, v in state.items() if k.startswith(prefix))

    # Stage views blocks{s}.{m} give the depths (the reference slices an
    # nn.Sequential, so m keeps the global block index); blocks.{n} must
    # repeat them.
    view_indices = {}
    for key in encoder:
        match = re.match(r'blocks([1-9])\.(\d+)\.', key)
        if match:
            view_indices.setdefault(int(match.group(1)) - 1,
                                    set()).add(int(match.group(2)))
    view_local = {}
    if view_indices:
        found = [len(view_indices.get(s, ()))
                 for s in range(max(view_indices) + 1)]
        if depths is not None and list(depths) != found:
            raise ValueError(f'depths {list(depths)} disagree with the '
                             f'checkpoint stage views {found}')
        depths = found
        for stage, indices in view_indices.items():
            for local, index in enumerate(sorted(indices)):
                view_local[(stage, index)] = local
    elif depths is None:
        raise ValueError('checkpoint has no blocks{1..4}.M keys: pass depths')
    depths = list(depths)
    starts = [sum(depths[:s]) for s in range(len(depths))]

    def stage_of(n: int) -> Tuple[int, int]:
        for s in reversed(range(len(depths))):
            if n >= starts[s]:
                if n - starts[s] >= depths[s]:
                    break
                return s, n - starts[s]
        raise KeyError(f'block {n} is outside depths {depths}')

    converted = OrderedDict()
    flat_blocks = {}
    pos_embed_type = 'learned'
    for key, value in encoder.items():
        where = prefix + key
        if key.startswith(NON_BACKBONE):
            dropped.append(where)
            continue
        if key.startswith('block_fusion.'):
            neck[_rename(key, FUSION_RENAMES, 'block_fusion', where)] = value
            continue
        if key in ('cls_token', 'norm.weight', 'norm.bias'):
            converted[key] = value
            continue
        if key in ('pos_embed', 'pe_token'):
            continue  # handled below
        match = re.fullmatch(r'blocks\.(\d+)\.(.+)', key)
        if match:
            stage, index = stage_of(int(match.group(1)))
            flat_blocks[(stage, index, match.group(2))] = (where, value)
            continue
        match = re.fullmatch(r'blocks([1-9])\.(\d+)\.(.+)', key)
        if match:
            stage = int(match.group(1)) - 1
            index = view_local[(stage, int(match.group(2)))]
            converted[f'stages.{stage}.blocks.{index}.'
                      f'{_rename_block(match.group(3), where)}'] = value
            continue
        match = re.fullmatch(r'pool([1-9])\.pool_block\.(.+)', key)
        if match:
            converted[f'stages.{int(match.group(1)) - 1}.pool.'
                      f'{match.group(2)}'] = value
            continue
        if key.startswith('patch_embed.proj.'):
            converted[_rename_stem(key[len('patch_embed.proj.'):],
                                   where)] = value
            continue
        raise KeyError(f'unknown CAST encoder key {where!r}')

    for (stage, index, rest), (where, value) in flat_blocks.items():
        name = f'stages.{stage}.blocks.{index}.{_rename_block(rest, where)}'
        if name in converted:
            if not torch.equal(converted[name], value):
                raise ValueError(f'{where} differs from its stage view '
                                 f'(stage {stage + 1}, block {index})')
        else:
            converted[name] = value

    if 'pe_token' in encoder:
        pos_embed_type = 'sincos'
        if encoder['pe_token'].abs().max() != 0:
            raise ValueError(f'{prefix}pe_token is not zero: not the frozen '
                             'MoCo v3 [CLS] position CAST rebuilds')
        if 'pos_embed' in encoder and not _is_sincos(encoder['pos_embed']):
            raise ValueError(f'{prefix}pos_embed is not the fixed 2D sin-cos '
                             "table that CAST(pos_embed_type='sincos') builds")
        dropped += [prefix + 'pos_embed', prefix + 'pe_token']
    elif 'pos_embed' in encoder:
        pos_embed = encoder['pos_embed']
        if grid_size is not None:
            resized = resize_pos_table(pos_embed, grid_size)
            if resized is None:
                raise ValueError(f'{prefix}pos_embed {tuple(pos_embed.shape)} '
                                 'is not a square (1, 1 + g*g, C) table')
            pos_embed = resized
        converted['pos_embed'] = pos_embed
    else:
        pos_embed_type = 'sincos'
    return converted, dict(prefix=prefix, depths=depths, dropped=dropped,
                           pos_embed_type=pos_embed_type, neck=neck,
                           decode_head=decode_head)


def resize_pos_table(table: torch.Tensor, grid_size: Sequence[int]) -> Optional[torch.Tensor]:
    """A learned position table (1, 1 + g*g, C) resized bicubically to ``grid_size`` (the [CLS]
    entry kept), as the converter and CAST's checkpoint loading both do; None if ``table`` is
    not such a square table."""
    side = math.isqrt(table.shape[1] - 1) if table.dim() == 3 and table.shape[1] > 1 else 0
    if side == 0 or side * side != table.shape[1] - 1:
        return None
    if (side, side) == tuple(grid_size):
        return table
    return resize_pos_embed(table, (side, side), tuple(grid_size), mode='bicubic',
                            num_extra_tokens=1)


def _is_fusion_neck(keys) -> bool:
    return bool(keys) and all(k.startswith(('norm.', 'proj.')) for k in keys)


def _is_segmenter_head(keys) -> bool:
    return {'cls_emb', 'dec_proj.weight', 'patch_proj.weight'} <= set(keys)


def _split_converted(state: Dict[str, torch.Tensor], prefix: str):
    """A state dict in our layout: the backbone under ``prefix``, and for a
    Segmenter model (``prefix`` = '[...]backbone.') its ``neck.``
    (:class:`BlockFusionNeck`) and ``decode_head.``
    (:class:`SuperpixelSegmenterHead`) beside it; other necks and heads
    (UperNet, a MoCo projector) are dropped."""
    parts = dict(backbone=OrderedDict(), neck=OrderedDict(),
                 decode_head=OrderedDict())
    wrapper = (prefix[:-len('backbone.')] if prefix.endswith('backbone.')
               else None)
    dropped = []
    for key, value in state.items():
        if key.startswith(prefix):
            parts['backbone'][key[len(prefix):]] = value
            continue
        for part in ('neck', 'decode_head'):
            head = f'{wrapper}{part}.'
            if wrapper is not None and key.startswith(head):
                parts[part][key[len(head):]] = value
                break
        else:
            dropped.append(key)
    for part, check in (('neck', _is_fusion_neck),
                        ('decode_head', _is_segmenter_head)):
        if parts[part] and not check(list(parts[part])):
            dropped += [f'{wrapper}{part}.{k}' for k in parts[part]]
            parts[part] = OrderedDict()
    backbone = parts['backbone']
    return backbone, dict(
        prefix=prefix, depths=None, dropped=dropped, neck=parts['neck'],
        decode_head=parts['decode_head'],
        pos_embed_type='learned' if 'pos_embed' in backbone else 'sincos')


def _rename(key: str, renames: Sequence[Tuple[str, str]], what: str,
            where: str) -> str:
    for old, new in renames:
        if key.startswith(old):
            return new + key[len(old):]
    raise KeyError(f'unknown {what} key {where!r}')


def _rename_decoder(key: str, value: torch.Tensor,
                    where: str) -> Tuple[str, torch.Tensor]:
    """One key of the reference's Segmenter decoder (``MaskTransformer``)
    as a key of MMSeg's ``SegmenterMaskTransformerHead``.

    The reference multiplies ``patches @ proj_patch`` by a (C, C) parameter;
    MMSeg's ``patch_proj`` is a Linear, whose weight is its transpose (same
    for ``proj_classes``). The reference's fused ``qkv`` is ordered q, k, v
    like ``nn.MultiheadAttention``'s ``in_proj``.
    """
    if key in ('proj_patch', 'proj_classes'):
        name = 'patch_proj' if key == 'proj_patch' else 'classes_proj'
        return f'{name}.weight', value.t().contiguous()
    match = re.fullmatch(r'blocks\.(\d+)\.(.+)', key)
    if match:
        rest = _rename(match.group(2), DECODER_BLOCK_RENAMES,
                       'Segmenter decoder block', where)
        return f'layers.{match.group(1)}.{rest}', value
    return _rename(key, DECODER_RENAMES, 'Segmenter decoder', where), value


def summarize(report: dict) -> List[str]:
    """Human-readable lines for a conversion report."""
    prefix = report['prefix']
    wrapper = prefix[:prefix.rstrip('.').rfind('.') + 1]  # e.g. 'module.'
    groups = OrderedDict()
    for key in report['dropped']:
        if key.startswith(prefix):
            head = prefix + key[len(prefix):].split('.')[0]
        elif key.startswith(wrapper):
            head = wrapper + key[len(wrapper):].split('.')[0]
        else:
            head = key.split('.')[0]
        groups[head] = groups.get(head, 0) + 1
    lines = [f'encoder prefix: {prefix!r}',
             f"depths: {report['depths']}",
             f"position embedding: {report['pos_embed_type']}",
             f"neck (block_fusion): {len(report.get('neck', {}))} keys",
             'decode_head (Segmenter decoder): '
             f"{len(report.get('decode_head', {}))} keys",
             f"dropped {len(report['dropped'])} keys:"]
    lines += [f'  {head}* ({n})' for head, n in groups.items()]
    return lines
