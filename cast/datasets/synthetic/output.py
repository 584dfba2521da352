"""The output-folder rules every synthetic generator follows.

A generator owns a folder through its manifest (``{name}_manifest.json``: its parameters and
whether it finished). Writing again with the same parameters does nothing once complete and
finishes an interrupted run; other parameters, or a non-empty folder without a manifest, are
refused with ``FileExistsError``: nothing is ever overwritten or deleted.
"""
import json
import os
import os.path as osp
from typing import Callable, Optional, Sequence

from mmengine.utils import mkdir_or_exist


def dump_json(obj, path: str) -> None:
    """Write JSON atomically (a crash leaves the old file or none, never half a file)."""
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(obj, f, separators=(',', ':'))
    os.replace(tmp, path)


def _some_files(folder: str, limit: int = 3) -> list:
    found = []
    for root, _, files in os.walk(folder):
        found += [osp.join(root, f) for f in sorted(files)]
        if len(found) >= limit:
            break
    return found[:limit]


class OutputFolder:
    """A generator's claim on ``out_dir``.

    Args:
        out_dir (str): the folder.
        name (str): the generator's name; its manifest is ``{name}_manifest.json``.
        params (dict): the generation parameters (JSON-serializable).
    """

    def __init__(self, out_dir: str, name: str, params: dict):
        self.out_dir = out_dir
        self.name = name
        self.params = params
        self.manifest = osp.join(out_dir, f'{name}_manifest.json')

    def state(self, complete_check: Optional[Callable[[], bool]] = None,
              owned: Sequence[str] = ()) -> Optional[str]:
        """'complete' (nothing to do), 'resume' (our own unfinished output), or None (fresh).

        Args:
            complete_check (callable, optional): extra test that every output is on disk.
            owned (Sequence[str]): files (relative) that a complete output holds.

        Raises:
            FileExistsError: the folder holds another parameters' output, or files and no
            manifest.
        """
        if osp.isfile(self.manifest):
            with open(self.manifest) as f:
                old = json.load(f)
            old_params = {k: old.get(k) for k in self.params}
            if old_params != self.params:
                diff = {k: (old_params[k], v) for k, v in self.params.items()
                        if old_params[k] != v}
                raise FileExistsError(
                    f'{self.out_dir} already holds a {self.name} dataset made with other '
                    f'parameters (manifest {self.manifest}; differing (old, new): {diff}). '
                    'Choose another folder; nothing was overwritten.')
            done = old.get('complete') and all(
                osp.isfile(osp.join(self.out_dir, p)) for p in owned) and (
                    complete_check is None or complete_check())
            return 'complete' if done else 'resume'
        if osp.isdir(self.out_dir) and os.listdir(self.out_dir):
            raise FileExistsError(
                f'{self.out_dir} is not empty ({", ".join(_some_files(self.out_dir))}, ...) and '
                f'has no {osp.basename(self.manifest)}: refusing to write into a folder this '
                'generator did not make. Choose another folder.')
        return None

    def read_manifest(self) -> dict:
        with open(self.manifest) as f:
            return json.load(f)

    def start(self) -> None:
        """Create the folder and record the parameters as unfinished."""
        mkdir_or_exist(self.out_dir)
        dump_json(dict(self.params, complete=False), self.manifest)

    def finish(self, **extra) -> None:
        """Record the output as complete (with ``extra`` entries, e.g. counts)."""
        dump_json(dict(self.params, complete=True, **extra), self.manifest)
