# Hierarchical UperNet + CAST-S on PartImageNet (levels object / part: 11 superclasses and
# 40 parts, each + background), 512x512 crops, 80k iterations, 8 GPUs x 2 images.
#   tools/dist_train.sh configs/cast/hier-upernet_cast-s_partimagenet.py 8
#   python tools/test.py configs/cast/hier-upernet_cast-s_partimagenet.py <ckpt> --show-dir vis
# The recipe of hier-upernet_cast-s_spin.py with two levels: chain likelihood loss beside the
# per-level cross-entropy, joint decoding (hierarchy from the dataset's metainfo via
# DatasetMetaHook); test reports per-level mIoU, SpCS_P2O (the only level pair) and SeCS over
# (part, object) chains.
_base_ = [
    '../_base_/models/hier-upernet_cast.py', '../_base_/datasets/partimagenet.py',
    '../_base_/default_runtime.py', '../_base_/schedules/adamw_80k.py'
]
crop_size = (512, 512)
checkpoint = 'pretrain/cast-s_deit.pth'
levels = ('object', 'part')
num_classes = [12, 41]  # ordered like levels, background included
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=checkpoint, prefix='backbone.')),
    decode_head=dict(levels=levels, num_classes=num_classes),
    auxiliary_head=dict(levels=levels, num_classes=num_classes),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(341, 341)))

train_dataloader = dict(batch_size=2)
# tools/test.py --show-dir: the image, then every level's ground truth beside its prediction
visualizer = dict(type='HierarchicalSegVisualizer')
