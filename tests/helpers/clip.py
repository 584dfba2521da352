"""CLIP files for the open-vocabulary labeller's tests: a tiny open_clip config, OpenAI's
ViT-B/16 state-dict layout written out from OpenAI's architecture (not from open_clip), and a
TorchScript archive holding a state dict (the form of OpenAI's release)."""
import math
from typing import Dict, Tuple

import torch
import torch.nn as nn

#: A CLIP of open_clip's code at a size the tests run in milliseconds (32 px, one block each).
TINY_CLIP = dict(embed_dim=16, quick_gelu=True,
                 vision_cfg=dict(image_size=32, layers=1, width=32, patch_size=16, head_width=16),
                 text_cfg=dict(context_length=16, vocab_size=49408, width=16, heads=2, layers=1))


def _blocks(prefix: str, width: int, layers: int) -> Dict[str, Tuple[int, ...]]:
    shapes = {}
    for i in range(layers):
        p = f'{prefix}transformer.resblocks.{i}.'
        shapes.update({
            p + 'attn.in_proj_weight': (3 * width, width), p + 'attn.in_proj_bias': (3 * width, ),
            p + 'attn.out_proj.weight': (width, width), p + 'attn.out_proj.bias': (width, ),
            p + 'ln_1.weight': (width, ), p + 'ln_1.bias': (width, ),
            p + 'mlp.c_fc.weight': (4 * width, width), p + 'mlp.c_fc.bias': (4 * width, ),
            p + 'mlp.c_proj.weight': (width, 4 * width), p + 'mlp.c_proj.bias': (width, ),
            p + 'ln_2.weight': (width, ), p + 'ln_2.bias': (width, )})
    return shapes


def openai_vit_b16_shapes() -> Dict[str, Tuple[int, ...]]:
    """Key -> shape of OpenAI's ViT-B/16 release (openai/CLIP clip/model.py: 224 px, patch 16,
    vision width 768, text width 512, 12 + 12 blocks, context 77, vocabulary 49,408, embedding
    512), with the three scalar entries the release also holds."""
    shapes = {'visual.class_embedding': (768, ), 'visual.positional_embedding': (197, 768),
              'visual.proj': (768, 512), 'visual.conv1.weight': (768, 3, 16, 16),
              'visual.ln_pre.weight': (768, ), 'visual.ln_pre.bias': (768, ),
              'visual.ln_post.weight': (768, ), 'visual.ln_post.bias': (768, )}
    shapes.update(_blocks('visual.', 768, 12))
    shapes.update({'positional_embedding': (77, 512), 'text_projection': (512, 512),
                   'logit_scale': (), 'token_embedding.weight': (49408, 512),
                   'ln_final.weight': (512, ), 'ln_final.bias': (512, )})
    shapes.update(_blocks('', 512, 12))
    shapes.update({'input_resolution': (), 'context_length': (), 'vocab_size': ()})
    return shapes


def openai_vit_b16_state_dict(seed: int = 0) -> Dict[str, torch.Tensor]:
    """Random float16 values in OpenAI's ViT-B/16 layout (the release is float16). Every
    tensor is a view of one random pool the size of the largest, so files stay small (storage
    is saved once) while keys and shapes are the release's."""
    shapes = openai_vit_b16_shapes()
    gen = torch.Generator().manual_seed(seed)
    pool = torch.empty(max(math.prod(s) for s in shapes.values()), dtype=torch.float16)
    pool.uniform_(-0.02, 0.02, generator=gen)
    ints = dict(input_resolution=224, context_length=77, vocab_size=49408)
    return {k: torch.tensor(ints[k]) if k in ints else pool[:math.prod(s)].view(s)
            for k, s in shapes.items()}


def save_torchscript(state: Dict[str, torch.Tensor], path: str) -> None:
    """A TorchScript archive whose ``state_dict()`` is ``state`` (buffers in a module tree)."""
    root = nn.Module()
    for key, value in state.items():
        *path_parts, leaf = key.split('.')
        module = root
        for part in path_parts:
            if not hasattr(module, part):
                module.add_module(part, nn.Module())
            module = getattr(module, part)
        module.register_buffer(leaf, value)
    torch.jit.save(torch.jit.script(root), path)
