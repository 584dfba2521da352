"""TestTimeAdapter on the tiny recognition configs (randomly initialised, the classifier's head
drawn so that its softmax is not uniform): weights and buffers restored bit for bit, frozen
parameters untouched, the objective's gradient reaching the graph pooling, one step lowering
the objective, 'norm' adapting only norms."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import set_random_seed

from cast.apis import init_recognition_model
from cast.recognition import TestTimeAdapter
from cast.recognition.adaptation import cross_view_cosine, marginal_entropy


def tiny_model(config_dir, name):
    """The tiny config's model, random; MoCo's views cropped to 64 px; the classifier's
    (zero-initialised) head drawn at random, so the softmax is not uniform (where the marginal
    entropy has no gradient)."""
    cfg = Config.fromfile(osp.join(config_dir, name))
    if 'mocov3' in name:
        for view in cfg.train_dataloader.dataset.pipeline[1].transforms:
            view[0].scale = 64
    model = init_recognition_model(cfg, device='cpu', seed=0)
    if hasattr(model.head, 'layers'):
        torch.manual_seed(1)
        torch.nn.init.normal_(model.head.layers.head.weight, std=0.5)
    return model


@pytest.fixture
def classifier(tiny_config_dir):
    return tiny_model(tiny_config_dir, 'tiny_cast_deit.py')


@pytest.fixture
def moco(tiny_config_dir):
    return tiny_model(tiny_config_dir, 'tiny_mocov3_cast.py')


@pytest.fixture
def image():
    """A generated (72, 88) BGR image: a bright disc on a dark gradient, with noise."""
    rng = np.random.RandomState(0)
    yy, xx = np.mgrid[:72, :88]
    img = np.stack([xx * 2, yy * 3, 255 - xx * 2], -1).astype(np.float64) * 0.4
    img[(yy - 36) ** 2 + (xx - 40) ** 2 < 20 ** 2] = (40, 200, 230)
    return np.clip(img + rng.normal(0, 12, img.shape), 0, 255).astype(np.uint8)


def adapter_of(model, **kwargs):
    kwargs.setdefault('optim_wrapper', dict(optimizer=dict(type='AdamW', lr=1e-2)))
    kwargs.setdefault('num_views', 3)
    return TestTimeAdapter.from_config(model, model.cfg, **kwargs)


def state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def changed(before, model):
    return [k for k, v in model.state_dict().items() if not torch.equal(before[k], v)]


@pytest.mark.parametrize('name', ['classifier', 'moco'])
def test_episodic_adaptation_restores_parameters_and_buffers_bit_for_bit(name, request, image):
    model = request.getfixturevalue(name)
    model.train()  # the mode the caller left is restored too
    flags = {n: p.requires_grad for n, p in model.named_parameters()}
    before = state(model)
    assert any('running_mean' in k for k in before)  # the stem's (and MoCo's) BatchNorm
    out = adapter_of(model, steps=2).adapt(image)
    assert len(out['records']) == 3 and len(out['objective']) == 2
    # the weights did move during the adaptation: the test view's recognition changed
    first, last = out['records'][0], out['records'][-1]
    if name == 'classifier':
        assert first['topk'][0][2] != last['topk'][0][2]
    assert changed(before, model) == []
    assert {n: p.requires_grad for n, p in model.named_parameters()} == flags
    assert model.training


def test_buffers_changed_while_adapting_are_restored(classifier, image):
    """The model adapts in eval mode (no BatchNorm statistic moves); a buffer that an
    objective does change (as a train-mode BatchNorm would) is restored all the same."""

    class Drifting(TestTimeAdapter):

        def objective(self, batch):
            bn = self.model.backbone.patch_embed.convs[0].bn
            bn.running_mean.add_(1.0)
            bn.num_batches_tracked.add_(1)
            return super().objective(batch)

    before = state(classifier)
    adapter = Drifting.from_config(classifier, classifier.cfg, num_views=2, steps=2)
    adapter.adapt(image)
    assert changed(before, classifier) == []


def test_online_keeps_adapting_until_reset(classifier, image):
    before = state(classifier)
    adapter = adapter_of(classifier, online=True)
    adapter.adapt(image)
    moved = changed(before, classifier)
    assert moved and all(k.startswith(('backbone.', 'head.')) for k in moved)
    adapter.adapt(image)  # the same optimizer (AdamW's step count goes on)
    assert adapter._optim_wrapper.optimizer.state_dict()['state'][0]['step'] == 2
    adapter.reset()
    assert changed(before, classifier) == []


def test_frozen_parameters_stay_frozen(classifier, image):
    frozen = {n for n, p in classifier.named_parameters() if not p.requires_grad}
    assert frozen and all(n.startswith('backbone.stages.3.pool.') for n in frozen)
    adapter = adapter_of(classifier, online=True, steps=2)
    assert not frozen & set(adapter.selected_parameters())
    before = state(classifier)
    adapter.adapt(image)
    moved = set(changed(before, classifier))
    assert moved and not moved & frozen
    assert all(not p.requires_grad for n, p in classifier.named_parameters() if n in frozen)


@pytest.mark.parametrize('name', ['classifier', 'moco'])
def test_objective_gradient_reaches_every_trainable_graph_pooling(name, request, image):
    model = request.getfixturevalue(name)
    adapter = adapter_of(model)
    set_random_seed(0)
    adapter.objective(adapter.make_views(image)).backward()
    stages = model.backbone.stages
    for i, stage in enumerate(stages):
        pool = stage['pool']
        if not next(pool.parameters()).requires_grad:  # the classifier's last pooling
            assert i == len(stages) - 1 and all(p.grad is None for p in pool.parameters())
            continue
        for part in ('centroid_fc', 'fc1', 'fc2'):
            grads = [p.grad for p in getattr(pool, part).parameters()]
            assert any(g is not None and g.abs().sum() > 0 for g in grads), (i, part)


@pytest.mark.parametrize('name', ['classifier', 'moco'])
def test_one_step_lowers_the_objective_on_the_same_views(name, request, image):
    model = request.getfixturevalue(name)
    adapter = adapter_of(model, online=True, steps=1,
                         optim_wrapper=dict(optimizer=dict(type='AdamW', lr=1e-3)))
    set_random_seed(0)
    views = adapter.make_views(image)
    with torch.no_grad():
        start = adapter.objective(views).item()
    set_random_seed(0)
    out = adapter.adapt(image)  # draws the same views after the same seed
    assert out['objective'][0] == pytest.approx(start, rel=1e-5)
    with torch.no_grad():
        assert adapter.objective(views).item() < start


def test_norm_adapts_only_normalisation_parameters(classifier, image):
    adapter = adapter_of(classifier, params='norm', online=True)
    names = set(adapter.selected_parameters())
    assert {'backbone.patch_embed.convs.0.bn.weight',  # the stem's BatchNorm, and LayerNorms
            'backbone.stages.0.blocks.0.ln1.weight'} <= names
    modules = dict(classifier.named_modules())
    for n in names:
        module = modules[n.rsplit('.', 1)[0]]
        assert isinstance(module, (torch.nn.LayerNorm, torch.nn.modules.batchnorm._BatchNorm))
    before = state(classifier)
    adapter.adapt(image)
    moved = changed(before, classifier)
    assert moved and set(moved) <= names


def test_backbone_adapts_no_head(classifier, image):
    adapter = adapter_of(classifier, params='backbone', online=True)
    assert all(n.startswith('backbone.') for n in adapter.selected_parameters())
    before = state(classifier)
    adapter.adapt(image)
    assert all(k.startswith('backbone.') for k in changed(before, classifier))


def test_objectives_by_hand():
    logits = torch.tensor([[2.0, 0.0], [0.0, 2.0]])
    assert marginal_entropy(logits).item() == pytest.approx(np.log(2))  # views disagree
    assert marginal_entropy(logits[:1].repeat(2, 1)).item() < np.log(2)
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    assert cross_view_cosine(q, q).item() == pytest.approx(2.0)  # orthogonal views
    assert cross_view_cosine(q[:1].repeat(2, 1), q[:1].repeat(2, 1)).item() == pytest.approx(0)
    with pytest.raises(ValueError, match='2 views'):
        cross_view_cosine(q[:1], q[:1])


def test_bad_models_and_settings_say_what_is_expected(classifier, moco, tiny_config_dir):
    with pytest.raises(ValueError, match="'memo' is for classifiers"):
        adapter_of(moco, objective='memo')
    with pytest.raises(ValueError, match='params must be one of'):
        adapter_of(classifier, params='heads')
    with pytest.raises(TypeError, match='recognition model'):
        TestTimeAdapter(classifier.backbone, [], [])
    seg = osp.join(tiny_config_dir, 'tiny_upernet_cast.py')
    with pytest.raises(TypeError, match=r'tiny_upernet_cast\.py: test-time adaptation needs a '
                                        r'recognition model'):
        init_recognition_model(seg, device='cpu')
    with pytest.raises(ValueError, match='uint8 BGR image'):
        adapter_of(classifier).adapt(np.zeros((8, 8), np.uint8))


@pytest.mark.parametrize('name', ['classifier', 'moco'])
def test_objective_and_records_follow_the_input_device(name, request, image):
    """As tests/test_device_following.py: a tensor made without ``device=`` would land on
    'meta' and fail against the CPU inputs, as a CPU tensor would against CUDA ones."""
    model = request.getfixturevalue(name)
    adapter = adapter_of(model)
    views, test = adapter.make_views(image), adapter.make_test_view(image)
    with torch.device('meta'):
        adapter.objective(views).backward()
        record = adapter.record(test)
    assert record['hierarchy'][0].shape == tuple(test['inputs'].shape[-2:])


def test_a_classifier_without_hierarchy_adapts_the_same_way(tiny_config_dir, image):
    """The study's ViT baseline: any MMPretrain classifier adapts (views without superpixels),
    records its prediction and entropy and no regions, and is restored bit for bit."""
    cfg = Config.fromfile(osp.join(tiny_config_dir, 'tiny_cast_deit.py'))
    cfg.model = dict(
        type='ImageClassifier',
        backbone=dict(type='VisionTransformer', img_size=64, patch_size=16, out_type='cls_token',
                      arch=dict(embed_dims=48, num_layers=2, num_heads=4,
                                feedforward_channels=96)),
        head=dict(type='VisionTransformerClsHead', num_classes=6, in_channels=48))
    for pipeline in (cfg.train_dataloader.dataset.pipeline, cfg.test_dataloader.dataset.pipeline):
        pipeline[:] = [t for t in pipeline if t['type'] != 'Superpixels']
    model = init_recognition_model(cfg, device='cpu', seed=0)
    torch.manual_seed(1)
    torch.nn.init.normal_(model.head.layers.head.weight, std=0.5)
    before = state(model)
    set_random_seed(0)
    out = adapter_of(model, steps=2).adapt(image)
    assert changed(before, model) == []
    assert [r['hierarchy'] for r in out['records']] == [[], [], []]
    probs = [score for _, _, score in out['records'][0]['topk']]
    assert out['records'][0]['entropy'] > 0 and len(probs) == 5
    assert out['records'][0]['topk'] != out['records'][-1]['topk']  # it did adapt
    # a CAST classifier still needs superpixels in every pipeline
    plain = Config.fromfile(osp.join(tiny_config_dir, 'tiny_cast_deit.py'))
    plain.train_dataloader.dataset.pipeline = cfg.train_dataloader.dataset.pipeline
    cast_model = init_recognition_model(plain, device='cpu', seed=0)
    with pytest.raises(KeyError, match='no Superpixels transform'):
        adapter_of(cast_model)


def test_entropy_record_is_that_of_the_whole_softmax(classifier, image):
    adapter = adapter_of(classifier)
    test = adapter.make_test_view(image)
    record = adapter.record(test)
    with torch.no_grad():
        probs = classifier(test['inputs'], test['data_samples'], mode='tensor')[0].softmax(-1)
    assert record['entropy'] == pytest.approx(float(-(probs * probs.log()).sum()), rel=1e-5)
