"""The registered models' names, without their implementations: a bundle's config is validated against them
without importing torch (an exported variant runs without it); :mod:`tumorscope.models.registry` holds the
builders (tests/models/test_registry.py keeps the two lists equal)."""

MODEL_NAMES = ("cnn", "cnn_gru", "densenet121", "ensemble", "fcn", "resnet18", "resnet34", "resnet50", "segresnet3d", "unet25d",
               "unet2d", "unet3d", "vit")
