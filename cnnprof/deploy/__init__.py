"""ONNX: a graph counted by formula (the ``onnx`` package only) and timed under ONNX Runtime;
device profiles calibrated on graphs built here. No torch: ``pip install 'cnnprof[onnx]'``."""
