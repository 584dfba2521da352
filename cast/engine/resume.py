"""Which checkpoint ``--resume`` continues from, and checks that it fits the run.

MMEngine resumes from the file named in ``{work_dir}/last_checkpoint`` (or from ``load_from``)
and fails with torch's raw unpickling error if that file is cut short. Before the runner is
built, :func:`choose_resume_checkpoint` checks the candidates with
:func:`~cast.engine.checkpoint.inspect_checkpoint` and hands MMEngine a whole one through the
config (``cfg.load_from`` with ``cfg.resume = True``, MMEngine's own "resume from this file"):

- ``--resume`` alone: the newest whole checkpoint among ``last_checkpoint``'s file and the
  ``iter_N.pth`` / ``epoch_N.pth`` files; a damaged newer one is skipped with a warning that
  names it.
- ``--resume FILE``: that file, or a refusal that says what is wrong with it and the exact flag
  for the newest whole checkpoint.

:class:`ResumeCheckHook` then checks the loaded checkpoint against the built model (a checkpoint
of another model is refused, not loaded half) and the training files against those the
checkpoint was trained on (a warning: the resumed run cannot replay the interrupted one).
"""
import glob
import hashlib
import json
import os
import os.path as osp
from typing import List, Optional

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmseg.registry import HOOKS

from .checkpoint import (
    UnreadableCheckpointError,
    checkpoint_step,
    inspect_checkpoint,
    step_checkpoints,
)


class ResumeError(RuntimeError):
    """``--resume`` cannot continue: the message says why and which flag to pass."""


def _same_file(a: str, b: str) -> bool:
    return osp.realpath(a) == osp.realpath(b)


def read_last_checkpoint(work_dir: str) -> Optional[str]:
    """The path in ``{work_dir}/last_checkpoint`` (MMEngine's pointer); None if absent or empty."""
    path = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(path):
        return None
    with open(path, errors='replace') as f:
        return f.read().strip() or None


def choose_resume_checkpoint(work_dir: str, ckpt_dir: str, named: Optional[str] = None):
    """The checkpoint ``--resume`` continues from.

    Args:
        work_dir (str): The run's work dir (holds ``last_checkpoint``).
        ckpt_dir (str): Where the run's checkpoints are written (the work dir, or the
            CheckpointHook's ``out_dir``; see :func:`cast.engine.run_safety.checkpoint_dir`).
        named (str, optional): A file the user named (``--resume FILE``).

    Returns:
        tuple[str | None, str | None]: The checkpoint (None: nothing to resume, a new run
        starts) and a warning to log (None if there is nothing to say).

    Raises:
        ResumeError: ``named`` is unreadable, or no checkpoint of the work dir is; the message
            names each file, what is wrong and the flag to pass.
    """
    if named:
        if '://' in named:  # a remote file: MMEngine's backends read it as they can
            return named, None
        try:
            inspect_checkpoint(named)
        except UnreadableCheckpointError as err:
            others = [p for p in step_checkpoints(ckpt_dir) if not _same_file(p, named)]
            whole = _first_whole(others)[0]
            hint = (f'the newest whole checkpoint is {whole}: pass --resume {whole}' if whole
                    else f'{ckpt_dir} holds no other whole checkpoint: start a new run with '
                    '--work-dir NEW_DIR')
            raise ResumeError(f'cannot resume: {err}; {hint}') from None
        return named, None
    pointer = read_last_checkpoint(work_dir)
    if pointer and '://' not in pointer and osp.isfile(osp.join(ckpt_dir, osp.basename(pointer))):
        pointer = osp.join(ckpt_dir, osp.basename(pointer))  # a work dir moved or copied
    candidates = step_checkpoints(ckpt_dir)
    if pointer and not any(_same_file(pointer, p) for p in candidates):
        # a name MMEngine wrote that is not iter_N/epoch_N (or lies elsewhere): it goes first
        # unless it is older than a numbered file
        step = checkpoint_step(pointer)
        newer = [p for p in candidates if checkpoint_step(p) > step] if step >= 0 else []
        candidates = newer + [pointer] + [p for p in candidates if p not in newer]
    chosen, problems = _first_whole(candidates)
    if chosen is None and problems:
        raise ResumeError(
            f'nothing to resume in {ckpt_dir}: ' + '; '.join(str(e) for e in problems) +
            '. Start a new run with --work-dir NEW_DIR (or --resume FILE for a whole '
            'checkpoint elsewhere)')
    notes = []
    if problems:
        notes.append('; '.join(str(e) for e in problems) +
                     f'. Resuming from {chosen}, the newest whole checkpoint')
    elif chosen and pointer and not _same_file(chosen, pointer):
        notes.append(f'last_checkpoint names {pointer} but {chosen} is newer and whole: '
                     f'resuming from {chosen}')
    elif chosen and not pointer:
        notes.append(f'{osp.join(work_dir, "last_checkpoint")} is missing or empty: resuming '
                     f'from {chosen}, the newest whole checkpoint')
    return chosen, (' '.join(notes) or None)


def _first_whole(paths: List[str]):
    """The first of ``paths`` that :func:`inspect_checkpoint` accepts, and the errors of those
    before it."""
    problems = []
    for path in paths:
        try:
            inspect_checkpoint(path)
            return path, problems
        except UnreadableCheckpointError as err:
            problems.append(err)
    return None, problems


def set_aside_unreadable(ckpt_dir: str, chosen: Optional[str]) -> List[str]:
    """Rename the unreadable checkpoints newer than ``chosen`` in ``ckpt_dir`` to
    ``{name}.unreadable``: the resumed run writes whole files under their names, and the damaged
    ones stay for the user to inspect or repair. Call only while holding the work dir's lock.
    Returns the new paths."""
    moved = []
    step = checkpoint_step(chosen) if chosen else -1
    for path in step_checkpoints(ckpt_dir):
        if checkpoint_step(path) <= step:
            break
        try:
            inspect_checkpoint(path)
        except UnreadableCheckpointError:
            os.replace(path, path + '.unreadable')
            moved.append(path + '.unreadable')
    return moved


def remove_partial_checkpoints(ckpt_dir: str) -> List[str]:
    """Remove ``*.pth.partial`` files (saves a kill cut short) from ``ckpt_dir``; call only while
    holding the work dir's lock. Returns the removed paths."""
    removed = []
    for path in sorted(glob.glob(osp.join(glob.escape(ckpt_dir), '*.pth.partial'))):
        os.remove(path)
        removed.append(path)
    return removed


def _base_datasets(dataset):
    """The datasets inside MMEngine's wrappers (Concat, Repeat, ClassBalanced)."""
    if hasattr(dataset, 'datasets'):
        return [d for child in dataset.datasets for d in _base_datasets(child)]
    if hasattr(dataset, 'dataset') and not hasattr(dataset, 'data_root'):
        return _base_datasets(dataset.dataset)
    return [dataset]


def dataset_fingerprint(dataset) -> Optional[dict]:
    """What identifies the samples a dataset trains on: their number, a digest of their
    entries (file names relative to the data root, so that a copy elsewhere is the same data,
    and annotations) and a digest of the sizes of their ``*_path`` files (images, label maps).

    Returns:
        dict | None: ``samples``, ``entries``, ``sizes``; None for a dataset without
        ``get_data_info``.
    """
    entries, sizes = hashlib.sha256(), hashlib.sha256()
    count = 0
    for base in _base_datasets(dataset):
        if not hasattr(base, 'get_data_info'):
            return None
        root = str(getattr(base, 'data_root', None) or '').rstrip('/')
        for index in range(len(base)):
            info = base.get_data_info(index)
            text = json.dumps(info, sort_keys=True, default=str)
            entries.update((text.replace(root + '/', '') if root else text).encode())
            for key in sorted(info):
                path = info[key]
                if key.endswith('_path') and isinstance(path, str):
                    sizes.update(f'{osp.getsize(path) if osp.isfile(path) else -1},'.encode())
            count += 1
    return dict(samples=count, entries=entries.hexdigest()[:16], sizes=sizes.hexdigest()[:16])


@HOOKS.register_module()
class ResumeCheckHook(Hook):
    """Checks of a resumed run; tools/train.py adds it to every training run.

    - Every checkpoint records :func:`dataset_fingerprint` of the training set in
      ``meta['train_files']``.
    - When resuming (``checkpoint`` set): a checkpoint whose tensors do not match the model's
      names and shapes is refused before anything is loaded; training files that differ from
      the checkpoint's are reported with a warning; ``note`` (the choice of checkpoint) is
      logged into the run's log.

    Args:
        checkpoint (str, optional): The file being resumed. Default: None (not resuming).
        note (str, optional): A warning to log when the run starts. Default: None.
    """

    priority = 'VERY_HIGH'

    def __init__(self, checkpoint: Optional[str] = None, note: Optional[str] = None):
        self.checkpoint, self.note = checkpoint, note
        self._fingerprint = None

    def before_run(self, runner) -> None:
        if self.note:
            runner.logger.warning(self.note)

    def _train_files(self, runner):
        if self._fingerprint is None:
            try:
                self._fingerprint = dataset_fingerprint(runner.train_dataloader.dataset) or {}
            except (OSError, TypeError, ValueError) as err:
                runner.logger.warning(f'the training files were not fingerprinted: {err}')
                self._fingerprint = {}
        return self._fingerprint

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        files = self._train_files(runner)
        if files:
            checkpoint.setdefault('meta', {})['train_files'] = files

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if self.checkpoint is None:
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        check_same_model(model.state_dict(), checkpoint.get('state_dict', {}), self.checkpoint)
        then = (checkpoint.get('meta') or {}).get('train_files')
        now = self._train_files(runner)
        if then and now and then != now:
            what = (f'{then["samples"]} samples then, {now["samples"]} now'
                    if then['samples'] != now['samples'] else
                    f'as many samples ({now["samples"]}), but other '
                    + ('file names or annotations' if then['entries'] != now['entries'] else
                       'file sizes'))
            runner.logger.warning(
                f'the training files are not those {self.checkpoint} was trained on ({what}): '
                'the resumed run goes on with the files as they are now, and will not '
                'replay the interrupted run')


def check_same_model(own: dict, theirs: dict, filename: str) -> None:
    """Refuse to resume from a checkpoint of another model.

    Args:
        own (dict): The built model's ``state_dict()``.
        theirs (dict): The checkpoint's ``state_dict``.
        filename (str): The checkpoint, for the message.

    Raises:
        ResumeError: naming the file, how many tensors differ and one example of each kind.
    """
    shapes = [k for k in own if k in theirs and tuple(own[k].shape) != tuple(theirs[k].shape)]
    missing = [k for k in own if k not in theirs]
    extra = [k for k in theirs if k not in own]
    if not (shapes or missing or extra):
        return
    parts = []
    if shapes:
        k = shapes[0]
        parts.append(f'{len(shapes)} tensors differ in shape (e.g. {k}: '
                     f'{list(theirs[k].shape)} there, {list(own[k].shape)} here)')
    if missing:
        parts.append(f'{len(missing)} of the model\'s tensors are absent (e.g. {missing[0]})')
    if extra:
        parts.append(f'{len(extra)} are not in this model (e.g. {extra[0]})')
    raise ResumeError(
        f'cannot resume from {filename}: it is a checkpoint of another model ('
        + '; '.join(parts) + '). Resume it with the config that wrote it, or start a new run '
        f'from its weights: --work-dir NEW_DIR --cfg-options load_from={filename}')
