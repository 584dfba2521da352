"""Every tensor the backbone, segmentors, heads and metric create follows the input's device.

Checked on the CPU in two ways:

- at run time: the models run on CPU inputs while torch's default device is 'meta'. A tensor
  made by a factory call without ``device=`` (``torch.arange(n)``, ``torch.zeros(...)``,
  ``torch.sparse_coo_tensor(...)``) then lands on 'meta', and the first op that mixes it with
  the CPU tensors raises, as a CPU tensor mixed with CUDA ones would on a GPU;
- statically: no factory call in the package's model code lacks ``device=`` (a call in a
  module's ``__init__`` builds parameters or buffers, which ``.to(device)`` moves).
"""
import ast
import glob
import os.path as osp

import pytest
import torch
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData

import cast  # noqa: F401
from cast.backbones import CAST
from cast.evaluation import HierarchicalMetric
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
ARCH = dict(embed_dims=48, num_layers=[1, 1, 1, 1], num_heads=12)
LEVELS = ('object', 'part', 'subpart')
NUM_CLASSES = dict(object=3, part=5, subpart=7)
HIERARCHY = dict(part=(0, 1, 1, 2, 2), subpart=(0, 1, 2, 2, 3, 4, 4))


def inputs(size=(40, 56), batch=2, seed=0):
    """Images and superpixels with a different count per image (padding)."""
    g = torch.Generator().manual_seed(seed)
    h, w = size
    superpixels = (torch.arange(h)[:, None] // 7) * 9 + torch.arange(w)[None] // 7
    superpixels = torch.stack([superpixels, superpixels // 2]).long()[:batch]
    return torch.randn(batch, 3, h, w, generator=g), superpixels


@pytest.mark.parametrize('kwargs', [
    dict(out_type='cls_token', out_indices=(3, )),
    dict(out_type='featmap'),
    dict(out_type='featmap', fast_segment_mean=False),
    dict(out_type='featmap', pos_embed_type='sincos'),
    dict(out_type='raw'),
], ids=['cls', 'seg', 'seg-full-res', 'seg-sincos', 'raw'])
def test_backbone_follows_the_input_device(kwargs):
    torch.manual_seed(0)
    model = CAST(ARCH, img_size=32, num_clusters=[12, 6, 3, 2], **kwargs)
    model.init_weights()
    x, superpixels = inputs()
    with torch.device('meta'):
        out = model.train()(x, superpixels)
        if isinstance(out, dict):  # 'raw': every stage's tokens and pooling logits
            out = out['tokens'] + out['logits']
        sum(t.mean() for t in out).backward()
        hierarchy = model.eval().forward_hierarchy(x, superpixels)
    assert all(t.device.type == 'cpu' for t in hierarchy)
    assert all(p.grad is None or p.grad.device.type == 'cpu' for p in model.parameters())


def uper_head(num_classes, **kwargs):
    return dict(type='UPerHead', in_channels=[48] * 4, in_index=[0, 1, 2, 3], pool_scales=(1, 2),
                channels=16, dropout_ratio=0.1, num_classes=num_classes, align_corners=False,
                norm_cfg=dict(type='BN'),
                loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0), **kwargs)


def segmentor(hierarchical, mode):
    init_default_scope('mmseg')
    test_cfg = dict(mode=mode)
    if mode == 'slide':
        test_cfg.update(crop_size=(32, 32), stride=(24, 24))
    preprocessor = dict(type='CASTSegDataPreProcessor', mean=[123.675, 116.28, 103.53],
                        std=[58.395, 57.12, 57.375], bgr_to_rgb=True, size_divisor=16,
                        pad_val=0, seg_pad_val=255)
    backbone = dict(type='CAST', arch=ARCH, img_size=32, num_clusters=[12, 6, 3, 2])
    if hierarchical:
        cfg = dict(type='HierarchicalEncoderDecoder', decoding='greedy',
                   hierarchy=HIERARCHY,
                   decode_head=dict(type='HierarchicalDecodeHead', levels=LEVELS,
                                    num_classes=NUM_CLASSES, decode_head=uper_head(-1)),
                   auxiliary_head=dict(type='HierarchicalDecodeHead', levels=LEVELS,
                                       num_classes=NUM_CLASSES,
                                       decode_head=dict(type='FCNHead', in_channels=48,
                                                        in_index=2, channels=8, num_convs=1,
                                                        num_classes=-1)))
    else:
        cfg = dict(type='CASTEncoderDecoder', decode_head=uper_head(3),
                   auxiliary_head=dict(type='FCNHead', in_channels=48, in_index=2, channels=8,
                                       num_convs=1, num_classes=3))
    cfg.update(data_preprocessor=preprocessor, backbone=backbone, train_cfg=dict(),
               test_cfg=test_cfg)
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def batch(shapes=((40, 56), (33, 47))):
    g = torch.Generator().manual_seed(0)
    images, samples = [], []
    for i, (h, w) in enumerate(shapes):
        images.append(torch.randint(0, 256, (3, h, w), generator=g, dtype=torch.uint8))
        sample = SegDataSample()
        for level in LEVELS:
            labels = torch.randint(0, NUM_CLASSES[level], (1, h, w), generator=g)
            sample.set_data({f'gt_seg_{level}': PixelData(data=labels)})
        sample.gt_sem_seg = PixelData(data=sample.gt_seg_object.data.clone())
        sp = (torch.arange(h)[:, None] // (6 + i)) * 10 + torch.arange(w)[None] // (6 + i)
        sample.superpixels = PixelData(data=torch.unique(sp, return_inverse=True)[1][None])
        sample.set_metainfo(dict(img_shape=(h, w), ori_shape=(h, w), flip=False))
        samples.append(sample)
    return dict(inputs=images, data_samples=samples)


@pytest.mark.parametrize('hierarchical', [False, True], ids=['single-level', 'hierarchical'])
@pytest.mark.parametrize('mode', ['whole', 'slide'])
def test_segmentors_and_heads_follow_the_input_device(hierarchical, mode):
    model = segmentor(hierarchical, mode)
    train_batch, test_batch = batch(), batch(((40, 56), (40, 56)))
    with torch.device('meta'):
        data = model.data_preprocessor(train_batch, True)
        losses = model.loss(data['inputs'], data['data_samples'])
        loss, _ = model.parse_losses(losses)
        loss.backward()
        model.eval()
        with torch.no_grad():
            data = model.data_preprocessor(test_batch, False)
            samples = model.predict(data['inputs'], data['data_samples'])
    assert loss.device.type == 'cpu'
    assert samples[0].pred_sem_seg.data.device.type == 'cpu'


def test_metric_follows_the_prediction_device():
    meta = dict(levels=LEVELS, main_level='object', hierarchy=HIERARCHY,
                level_classes={level: [f'{level}{i}' for i in range(n)]
                               for level, n in NUM_CLASSES.items()})
    metric = HierarchicalMetric(hier_metrics=['mIoU', 'SpCS', 'SeCS'])
    metric.dataset_meta = meta  # built once, on the CPU: tables move to the inputs' device
    g = torch.Generator().manual_seed(0)
    samples = []
    for _ in range(2):
        sample = {}
        for level, n in NUM_CLASSES.items():
            sample[f'pred_seg_{level}'] = dict(data=torch.randint(0, n, (1, 9, 11), generator=g))
            sample[f'gt_seg_{level}'] = dict(data=torch.randint(0, n, (1, 9, 11), generator=g))
        samples.append(sample)
    with torch.device('meta'):
        metric.process({}, samples)
    results = metric.compute_metrics(metric.results)
    assert 'SeCS' in results and 'mIoU.subpart' in results


# ----------------------------------------------------------------------
# static check
FACTORIES = {
    'zeros', 'ones', 'full', 'empty', 'arange', 'range', 'linspace', 'logspace', 'eye',
    'tensor', 'as_tensor', 'asarray', 'rand', 'randn', 'randint', 'randperm', 'empty_strided',
    'sparse_coo_tensor', 'sparse_csr_tensor', 'tril_indices', 'triu_indices', 'scalar_tensor',
    'normal', 'bernoulli',
}
MODEL_CODE = ('backbones', 'segmentors', 'heads', 'necks', 'losses', 'structures', 'evaluation',
              'recognition', 'utils')


def factory_calls_without_device(source):
    """(line, name) of ``torch.<factory>(...)`` calls without ``device=`` outside ``__init__``."""
    tree = ast.parse(source)
    found = []

    def visit(node, in_init):
        for child in ast.iter_child_nodes(node):
            init = in_init or (isinstance(child, ast.FunctionDef) and child.name == '__init__')
            if (isinstance(child, ast.Call) and isinstance(child.func, ast.Attribute)
                    and child.func.attr in FACTORIES and isinstance(child.func.value, ast.Name)
                    and child.func.value.id == 'torch' and not in_init
                    and not any(k.arg == 'device' for k in child.keywords)):
                found.append((child.lineno, child.func.attr))
            visit(child, init)

    visit(tree, False)
    return found


def test_static_check_finds_a_factory_call_without_device():
    source = ('import torch\nclass M:\n    def __init__(self):\n        self.a = torch.zeros(3)\n'
              '    def forward(self, x):\n        i = torch.arange(3, device=x.device)\n'
              '        return x + torch.ones(3)\n')
    assert factory_calls_without_device(source) == [(7, 'ones')]


def test_model_code_states_the_device_of_every_factory_call():
    files = [f for sub in MODEL_CODE
             for f in glob.glob(osp.join(REPO, 'cast', sub, '**', '*.py'), recursive=True)]
    assert len(files) > 10
    offenders = []
    for path in files:
        with open(path) as f:
            for line, name in factory_calls_without_device(f.read()):
                offenders.append(f'{osp.relpath(path, REPO)}:{line} torch.{name}')
    assert not offenders, ('factory calls without device= (pass the device of the input they '
                           'go with): ' + ', '.join(offenders))
