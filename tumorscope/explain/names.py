"""The explanation methods' names, without their implementations: the CLI lists them in ``--help`` without
importing torch (:mod:`tumorscope.explain.methods` runs them)."""

METHODS = ("gradcam", "gradcampp", "saliency", "ig", "occlusion")
