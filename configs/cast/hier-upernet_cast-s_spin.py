# Hierarchical UperNet + CAST-S on SPIN (levels object / part / subpart: 11 superclasses,
# 40 parts, 203 subparts, each + background), 512x512 crops, 80k iterations, 8 GPUs x 2 images.
#   tools/dist_train.sh configs/cast/hier-upernet_cast-s_spin.py 8
#   python tools/test.py configs/cast/hier-upernet_cast-s_spin.py <ckpt> --show-dir vis
# Trained with per-level cross-entropy plus the chain likelihood loss; predictions are decoded
# jointly (per pixel the valid chain of highest total log-probability; the hierarchy comes from
# the dataset's metainfo via DatasetMetaHook). model.decoding='independent' scores the raw
# per-level argmax, 'greedy' restricts each level to the children of the class chosen above.
# Test reports per-level mIoU, SpCS (S2P, P2O) and SeCS; --show-dir saves the image with every
# level's GT beside Pred.
_base_ = [
    '../_base_/models/hier-upernet_cast.py', '../_base_/datasets/spin.py',
    '../_base_/default_runtime.py', '../_base_/schedules/adamw_80k.py'
]
crop_size = (512, 512)
checkpoint = 'pretrain/cast-s_deit.pth'
levels = ('object', 'part', 'subpart')
num_classes = [12, 41, 204]  # ordered like levels, background included
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=checkpoint, prefix='backbone.')),
    decode_head=dict(levels=levels, num_classes=num_classes),
    auxiliary_head=dict(levels=levels, num_classes=num_classes),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(341, 341)))

train_dataloader = dict(batch_size=2)
# tools/test.py --show-dir: the image, then every level's ground truth beside its prediction
visualizer = dict(type='HierarchicalSegVisualizer')
