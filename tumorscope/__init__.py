"""tumorscope: tumor detection in medical images - train, evaluate with CIs, explain, deploy on a CPU."""

__version__ = "0.1.0"
