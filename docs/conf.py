"""Sphinx configuration of the CAST-Seg documentation.

Pages are MyST Markdown; the API reference is autodoc + napoleon over the exports of each
``cast`` package. Build with ``make docs`` (HTML in ``docs/_build/html``, warnings are errors);
``tests/test_docs.py`` runs the same build.
"""
import importlib
import re

from docutils import nodes
from docutils.parsers.rst import Directive
from sphinx import addnodes
from sphinx.util import logging

import cast

project = 'CAST-Seg'
author = 'CAST-Seg contributors'
copyright = 'CAST-Seg contributors'
release = cast.__version__
version = cast.__version__

extensions = [
    'myst_parser',
    'sphinx.ext.autodoc',
    'sphinx.ext.napoleon',
]
source_suffix = {'.rst': 'restructuredtext', '.md': 'markdown'}
exclude_patterns = ['_build']
root_doc = 'index'

# MyST: `{ref}`-style labels on headings (`(label)=`), anchors for `page.md#heading` links.
myst_enable_extensions = ['colon_fence', 'deflist']
myst_heading_anchors = 3

# Google-style docstrings (`Args:`, `Returns:`), as OpenMMLab's.
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
autodoc_member_order = 'bysource'
autodoc_typehints = 'description'
autodoc_default_options = {'members': True, 'show-inheritance': True}
# `:class:` roles naming a class by its short name resolve within the current module.
add_module_names = False

html_theme = 'furo'
html_title = 'CAST-Seg'
html_static_path = ['_static']
html_css_files = ['custom.css']

# the registries `cast` registers into: (package, registry attribute)
REGISTRIES = [(pkg, name) for pkg in ('mmseg.registry', 'mmpretrain.registry')
              for name in ('MODELS', 'DATASETS', 'TRANSFORMS', 'METRICS', 'HOOKS', 'VISUALIZERS')]


def public_names():
    """id(class) -> 'cast.<package>.<Name>' for every name a ``cast`` package exports."""
    names = {}
    for package in ('apis', 'backbones', 'datasets', 'datasets.transforms', 'engine',
                    'evaluation', 'heads', 'losses', 'necks', 'recognition', 'segmentors',
                    'structures', 'utils', 'visualization'):
        module = importlib.import_module(f'cast.{package}')
        for name in getattr(module, '__all__', []):
            names.setdefault(id(getattr(module, name)), f'cast.{package}.{name}')
    return names


def table(header, rows):
    """A docutils table of ``header`` and ``rows`` (lists of lists of nodes)."""
    group = nodes.tgroup(cols=len(header))
    group += [nodes.colspec(colwidth=1) for _ in header]

    def row(cells):
        entries = nodes.row()
        for cell in cells:
            entries += nodes.entry('', nodes.paragraph('', '', *cell))
        return entries

    group += nodes.thead('', row([[nodes.Text(h)] for h in header]))
    group += nodes.tbody('', *[row(cells) for cells in rows])
    return nodes.table('', group)


class RegisteredClasses(Directive):
    """``registered-classes``: a table of every class ``cast`` registers (registry, name, link
    to its API entry). A registered class no package exports (so no API page documents it) is a
    warning, which ``-W`` turns into a failed build."""

    def run(self):
        public = public_names()
        rows = []
        for package, attr in REGISTRIES:
            registry = getattr(importlib.import_module(package), attr)
            scope = package.split('.')[0]
            for name, cls in sorted(registry.module_dict.items()):
                if not cls.__module__.startswith('cast.'):
                    continue
                path = public.get(id(cls))
                if path is None:
                    path = f'{cls.__module__}.{cls.__qualname__}'
                    logging.getLogger(__name__).warning(
                        f'{path} is registered in {scope} {attr} but no cast package exports '
                        'it (add it to its __all__)')
                    link = nodes.literal(text=path)
                else:
                    link = addnodes.pending_xref(
                        '', nodes.literal(text=path), refdomain='py', reftype='class',
                        reftarget=path, refexplicit=True, refwarn=True)
                rows.append([[nodes.Text(f'{scope} '), nodes.literal(text=attr)],
                             [nodes.literal(text=name)], [link]])
        return [table(['registry', 'name', 'class'], rows)]


# a bare `*` of the shape shorthand, e.g. (N_l, *) or (*): a dimension, not reST emphasis
SHAPE_STAR = re.compile(r'(?<=[(,] )\*(?=[),])|(?<=\()\*(?=[),])')


def escape_shape_stars(app, what, name, obj, options, lines):
    """Render the docstrings' shape shorthand as written (outside ``literals``)."""
    for i, line in enumerate(lines):
        parts = line.split('``')
        parts[::2] = [SHAPE_STAR.sub(r'\\*', part) for part in parts[::2]]
        lines[i] = '``'.join(parts)


def setup(app):
    app.add_directive('registered-classes', RegisteredClasses)
    app.connect('autodoc-process-docstring', escape_shape_stars)
