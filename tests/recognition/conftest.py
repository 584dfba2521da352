"""Recognition tests register MMPretrain's side of the package; their fixtures (the synthetic
ImageNet-layout folder, ``tiny_config_dir``) are in tests/conftest.py."""
import cast.recognition  # noqa: F401  (MMPretrain registrations, until cast/__init__ imports it)
