"""``tumorscope export``: a bundle's network as ONNX / OpenVINO graphs (float32 or int8), each verified against
the float32 PyTorch network on real images before the bundle keeps it (docs/runtime.md)."""
