"""The recognition tests import MMPretrain's registries directly, so ``cast`` is imported here,
before them: it registers CAST's MMPretrain side and makes torchvision importable for MMPretrain.
Their data fixtures (the synthetic ImageNet-layout folder, ``tiny_config_dir``) are in
tests/conftest.py."""
import cast  # noqa: F401
