"""Builds the tiny ONNX fixtures of the bad-input tests (committed in tests/fixtures/).

nan_logits.onnx   HF interface, logits = sum(input_ids) * NaN          -> NaN scores
wrong_inputs.onnx input "pixel_values" instead of input_ids/attention_mask
length.onnx       HF interface without token_type_ids, logits = number of real tokens
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper as H
from onnx import numpy_helper as NH

out = sys.argv[1]


def save(name, nodes, inputs, inits):
    g = H.make_graph(nodes, name, inputs, [H.make_tensor_value_info("logits", T.FLOAT, ["batch", 1])], inits)
    m = H.make_model(g, opset_imports=[H.make_opsetid("", 17)], producer_name="dojo-reward make_fixtures.py")
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, f"{out}/{name}.onnx")


ids = H.make_tensor_value_info("input_ids", T.INT64, ["batch", "sequence"])
mask = H.make_tensor_value_info("attention_mask", T.INT64, ["batch", "sequence"])
tt = H.make_tensor_value_info("token_type_ids", T.INT64, ["batch", "sequence"])
ax = NH.from_array(np.array([1], np.int64), "ax")
nan = NH.from_array(np.array(np.nan, np.float32), "nan")
save("nan_logits", [
    H.make_node("Cast", ["input_ids"], ["f"], to=T.FLOAT),
    H.make_node("ReduceSum", ["f", "ax"], ["s"], keepdims=1),
    H.make_node("Mul", ["s", "nan"], ["logits"]),
], [ids, mask, tt], [ax, nan])
save("wrong_inputs", [
    H.make_node("ReduceSum", ["pixel_values", "ax"], ["logits"], keepdims=1),
], [H.make_tensor_value_info("pixel_values", T.FLOAT, ["batch", "n"])], [ax])
save("length", [
    H.make_node("Cast", ["attention_mask"], ["f"], to=T.FLOAT),
    H.make_node("ReduceSum", ["f", "ax"], ["logits"], keepdims=1),
], [ids, mask], [ax])
