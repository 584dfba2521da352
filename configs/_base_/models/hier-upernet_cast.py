# Hierarchical UperNet on CAST-S: one UPerHead per level (object / part / subpart) on the shared
# CAST-S features (segmentation variant of ./upernet_cast.py), losses summed over levels.
#
# Head choice: UPerHead per level with channels=256 (8.1M parameters per level at 204 classes)
# instead of upernet_cast.py's 512 (29.2M per level). Each level keeps UperNet's PPM + FPN, but
# three 512-channel heads would be 3x88M parameters around a 28M backbone, and their stride-4
# fusion conv (2048 -> 512, 3x3) dominates the FLOPs; at 256 channels it costs a quarter.
# A much lighter alternative is SegformerHead per level (0.7M parameters, channels=256):
#   model = dict(decode_head=dict(decode_head=dict(_delete_=True, type='SegformerHead', ...)))
# The auxiliary FCNHead (weight 0.4 on stage 3, as in UperNet) is hierarchical too: one per level.
#
# Training adds the chain likelihood loss to the per-level cross-entropy (the likelihood of the
# ground-truth (object, part, subpart) chain among the hierarchy's valid chains), and test-time
# decoding is joint (the most probable valid chain per pixel): on the synthetic SPIN this pair
# beat per-level training and decoding on every level (docs/benchmarks.md).
# A shared decoder trunk (decode_head.shared=True: one UPerHead, one 1x1 classifier per level)
# costs 111 instead of 328 head GFLOPs at 512x512 but lost part and subpart mIoU there.
#
# Levels and classes per level default to SPIN (11 superclasses / 40 parts / 203 subparts, each
# + background); num_classes are lists ordered like `levels` (lists replace, dicts would merge
# when a dataset config overrides them). Set the same `levels` / `num_classes` in decode_head and
# auxiliary_head.
_base_ = ['./upernet_cast.py']

norm_cfg = dict(type='SyncBN', requires_grad=True)
levels = ('object', 'part', 'subpart')
num_classes = [12, 41, 204]
model = dict(
    type='HierarchicalEncoderDecoder',
    # per pixel the valid (object, part, subpart) chain of highest total log-probability; the
    # hierarchy is read from model.dataset_meta, set by DatasetMetaHook (below)
    decoding='joint',
    decode_head=dict(
        _delete_=True,
        type='HierarchicalDecodeHead',
        levels=levels,
        num_classes=num_classes,
        main_level='object',
        decode_head=dict(
            type='UPerHead',
            in_channels=[384, 384, 384, 384],
            in_index=[0, 1, 2, 3],
            pool_scales=(1, 2, 3, 6),
            channels=256,
            dropout_ratio=0.1,
            num_classes=-1,  # set per level
            norm_cfg=norm_cfg,
            align_corners=False,
            loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
        # hierarchy-aware loss over all levels (needs the hierarchy: DatasetMetaHook, below)
        hierarchy_loss=dict(type='ChainLikelihoodLoss', loss_weight=1.0)),
    auxiliary_head=dict(
        _delete_=True,
        type='HierarchicalDecodeHead',
        levels=levels,
        num_classes=num_classes,
        main_level='object',
        decode_head=dict(
            type='FCNHead',
            in_channels=384,
            in_index=2,
            channels=256,
            num_convs=1,
            concat_input=False,
            dropout_ratio=0.1,
            num_classes=-1,  # set per level
            norm_cfg=norm_cfg,
            align_corners=False,
            loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4))))

# hands the dataset's metainfo (the hierarchy) to the model before training, validation, test
custom_hooks = [dict(type='DatasetMetaHook')]
