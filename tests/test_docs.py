"""The documentation site builds as ``make docs`` builds it, with warnings as errors: a broken
cross-reference, a page missing from the toctree, a docstring autodoc cannot import or parse, or
a registered class no package exports all fail it."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_docs_build_without_warnings(tmp_path):
    out = tmp_path / 'html'
    result = subprocess.run(
        [sys.executable, '-m', 'sphinx', '-W', '--keep-going', '-q', '-b', 'html',
         '-d', str(tmp_path / 'doctrees'), str(ROOT / 'docs'), str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert result.returncode == 0, f'sphinx-build failed:\n{result.stdout}\n{result.stderr}'
    pages = {p.relative_to(out).as_posix() for p in out.rglob('*.html')}
    for page in ('index.html', 'get_started.html', 'benchmarks.html', 'api/index.html'):
        assert page in pages, f'{page} was not built'

    # the API reference lists every class `cast` registers
    import cast  # noqa: F401  registers the classes
    from mmseg.registry import MODELS
    api = (out / 'api' / 'index.html').read_text()
    registered = [name for name, cls in MODELS.module_dict.items()
                  if cls.__module__.startswith('cast.')]
    assert 'CAST' in registered
    missing = [name for name in registered if f'{name}</span>' not in api]
    assert not missing, f'registered classes missing from the API page: {missing}'
