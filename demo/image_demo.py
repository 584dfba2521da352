"""Segment one image and draw every level in one picture, as MMSeg's demo/image_demo.py.

    python demo/image_demo.py IMG CONFIG CHECKPOINT [--out-file OUT.png] [--device cpu]
        [--opacity 0.6] [--title TITLE] [--with-hierarchy] [--show]

The picture shows the image, then each level's prediction with numbered class tags and a legend
(a hierarchical model: object, part, subpart; any other config: its one level);
``--with-hierarchy`` adds CAST's regions (superpixels, then each stage) beside the image.
Without ``--out-file`` (and without ``--show``) it is written to ``IMG_STEM_pred.png`` in the
current folder.
"""
import argparse
import os.path as osp

from cast.apis import inference_model, init_model, show_result


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Segment an image with every level drawn')
    parser.add_argument('img', help='image file')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out-file', help='where to write the picture')
    parser.add_argument('--device', default=None, help='cpu, cuda:0, ... (default: CUDA if '
                        'available, else cpu)')
    parser.add_argument('--opacity', type=float, default=0.6,
                        help='opacity of the colours, in (0, 1] (default 0.6)')
    parser.add_argument('--title', default=None, help='title of the picture (default: the '
                        "image's file name)")
    parser.add_argument('--with-hierarchy', action='store_true',
                        help="also draw CAST's regions beside the image")
    parser.add_argument('--show', action='store_true', help='display the picture in a window')
    args = parser.parse_args(argv)
    if not 0 < args.opacity <= 1:
        parser.error(f'--opacity must be in (0, 1], got {args.opacity}')
    for name in ('img', 'config', 'checkpoint'):
        if not osp.isfile(getattr(args, name)):
            parser.error(f'{name} {getattr(args, name)!r} is not a file')
    return args


def main(argv=None):
    args = parse_args(argv)
    model = init_model(args.config, args.checkpoint, device=args.device)
    result = inference_model(model, args.img, with_hierarchy=args.with_hierarchy)
    out_file = args.out_file
    if out_file is None and not args.show:
        out_file = f'{osp.splitext(osp.basename(args.img))[0]}_pred.png'
    title = osp.basename(args.img) if args.title is None else args.title
    show_result(model, args.img, result, opacity=args.opacity, title=title, draw_gt=False,
                show=args.show, out_file=out_file)
    levels = model.dataset_meta.get('levels') or ['sem_seg']
    if out_file:
        print(f'wrote {out_file} ({", ".join(levels)})')
    return out_file


if __name__ == '__main__':
    main()
