"""Writes the int8 variant of an exported reward model: dynamic quantization of the encoder's
weight MatMuls (per output channel, int8 weights, uint8 activations computed at run time).

Left in float: the attention's activation-by-activation MatMuls, and the reward head, whose weights
fold the feature standardisation and are far from zero-centred (quantizing it collapses every score
to one value). Deterministic: the same input model gives the same bytes.
"""
import argparse
import os
import tempfile

import onnx
from onnxruntime.quantization import QuantType, quantize_dynamic


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, help="float model.onnx")
    ap.add_argument("--out", required=True, help="where to write model.int8.onnx")
    a = ap.parse_args()
    m = onnx.load(a.model)
    weights = {i.name for i in m.graph.initializer}
    chosen = []
    for i, n in enumerate(m.graph.node):
        # nodes_to_quantize selects by name; the exporter leaves names empty.
        if not n.name:
            n.name = f"{n.op_type}_{i}"
        if n.op_type == "MatMul" and any(x in weights and x.startswith("encoder.") for x in n.input):
            chosen.append(n.name)
    if not chosen:
        raise SystemExit(f"{a.model}: no encoder weight MatMul to quantize")
    with tempfile.TemporaryDirectory() as d:
        named = os.path.join(d, "named.onnx")
        onnx.save(m, named)
        quantize_dynamic(
            named,
            a.out,
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["MatMul"],
            nodes_to_quantize=chosen,
            per_channel=True,
        )
    print(f"quantized {len(chosen)} MatMuls into {a.out}")


if __name__ == "__main__":
    main()
