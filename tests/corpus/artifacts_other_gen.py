"""Generator of SavedModel protobufs (and hostile protobufs) for the artifact tests.

TensorFlow is too heavy to install for tests, so ``saved_model.pb`` files are written
here with a tiny protobuf wire *writer* along the same field paths TensorFlow uses
(SavedModel.meta_graphs > MetaGraphDef.graph_def > GraphDef.node / library.function >
FunctionDef.signature/node_def > NodeDef.name/op/attr). Run it as a script to write the
fixtures into a directory for inspection: ``python tests/corpus/artifacts_other_gen.py OUT``.
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = [
    "func",
    "nested_message",
    "node",
    "onnx_nested_subgraphs",
    "savedmodel",
    "varint",
]


def varint(value: int) -> bytes:
    """Base-128 varint of a non-negative integer."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _len(number: int, payload: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def _int(number: int, value: int) -> bytes:
    return varint(number << 3) + varint(value)


def node(name: str, op: str, attrs: dict[str, str] | None = None) -> bytes:
    """A NodeDef with string attributes (AttrValue.s)."""
    body = _len(1, name.encode()) + _len(2, op.encode())
    for key, value in (attrs or {}).items():
        body += _len(5, _len(1, key.encode()) + _len(2, _len(2, value.encode())))
    return body


def func(name: str, nodes: list[bytes]) -> bytes:
    """A FunctionDef: OpDef signature with its name, then node_def entries."""
    return _len(1, _len(1, name.encode())) + b"".join(_len(3, n) for n in nodes)


def savedmodel(
    nodes: list[bytes],
    functions: list[bytes] | None = None,
    saver_prefix: str | None = None,
) -> bytes:
    """A SavedModel with one MetaGraphDef holding these graph nodes and functions."""
    graph = b"".join(_len(1, n) for n in nodes)
    if functions:
        graph += _len(2, b"".join(_len(1, f) for f in functions))
    graph += _len(4, _int(1, 1808))  # versions.producer
    meta = _len(1, _len(4, b"serve"))  # meta_info_def.tags
    meta += _len(2, graph)
    if saver_prefix:
        meta += _len(
            3,
            _len(1, f"{saver_prefix}/Const:0".encode())
            + _len(2, f"{saver_prefix}/Identity:0".encode())
            + _len(3, f"{saver_prefix}/restore_all".encode()),
        )
    return _int(1, 1) + _len(2, meta)


def benign_tf1() -> bytes:
    """A TF1-style model: math ops, and the saver subgraph under ``save/``."""
    return savedmodel(
        [
            node("x", "Placeholder"),
            node("w", "VariableV2"),
            node("y", "MatMul"),
            node("save/Const", "Const"),
            node("save/SaveV2", "SaveV2"),
            node("save/RestoreV2", "RestoreV2"),
        ],
        saver_prefix="save",
    )


def benign_tf2() -> bytes:
    """A TF2-style model: work in functions, checkpoint ops in the traced save/restore."""
    return savedmodel(
        [
            node("saver_filename", "Placeholder"),
            node("StatefulPartitionedCall", "StatefulPartitionedCall"),
        ],
        functions=[
            func("__inference_serve_42", [node("dense/MatMul", "MatMul"), node("Relu", "Relu")]),
            func(
                "__inference__traced_save_99",
                [node("SaveV2", "SaveV2"), node("MergeV2Checkpoints", "MergeV2Checkpoints")],
            ),
            func("__inference__traced_restore_120", [node("RestoreV2", "RestoreV2")]),
        ],
    )


def pyfunc_in_function() -> bytes:
    """An EagerPyFunc hidden inside a serving function (tf.py_function)."""
    return savedmodel(
        [node("x", "Placeholder")],
        functions=[
            func("__inference_serve_7", [node("EagerPyFunc", "EagerPyFunc", {"token": "pyfunc_0"})])
        ],
    )


def file_ops() -> bytes:
    """ReadFile/WriteFile in the graph and a PrintV2 that prints into a file."""
    return savedmodel(
        [
            node("path", "Const"),
            node("ReadFile", "ReadFile"),
            node("WriteFile", "WriteFile"),
            node("PrintV2", "PrintV2", {"output_stream": "file:///tmp/exfil.txt"}),
        ]
    )


def rogue_save() -> bytes:
    """SaveV2 outside the saver scope: writes tensors to a path of the model's choosing."""
    return savedmodel([node("evil/SaveV2", "SaveV2")], saver_prefix="save")


def nested_message(depth: int) -> bytes:
    """A SavedModel whose first MetaGraphDef holds a message nested ``depth`` levels."""
    inner = b""
    for _ in range(depth):
        inner = _len(1, inner)
    return _int(1, 1) + _len(2, _len(1, inner))


def onnx_nested_subgraphs(depth: int) -> bytes:
    """An ONNX ModelProto whose If-node subgraphs nest ``depth`` levels (onnx refuses ~30)."""
    graph = b""
    for _ in range(depth):
        attr = _len(1, b"then_branch") + _int(20, 5) + _len(6, graph)
        graph = _len(1, _len(4, b"If") + _len(5, attr))
    return _int(1, 8) + _len(7, graph) + _len(8, _len(1, b"") + _int(2, 17))


def main(out: Path) -> None:
    """Write every fixture as ``<name>/saved_model.pb`` under ``out``."""
    for name, make in {
        "benign_tf1": benign_tf1,
        "benign_tf2": benign_tf2,
        "pyfunc_in_function": pyfunc_in_function,
        "file_ops": file_ops,
        "rogue_save": rogue_save,
    }.items():
        (out / name).mkdir(parents=True, exist_ok=True)
        (out / name / "saved_model.pb").write_bytes(make())


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "savedmodel-fixtures"))
