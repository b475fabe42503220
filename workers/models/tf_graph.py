"""Read a frozen TensorFlow GraphDef (``.pb``) without TensorFlow.

The few messages a frozen graph needs (GraphDef, NodeDef, AttrValue, TensorProto,
TensorShapeProto) are declared here as a ``FileDescriptorProto`` with TensorFlow's
field numbers and parsed by the ``protobuf`` runtime that pymilvus already
installs. Enums (``DataType``) are read as plain integers: same wire format,
and no need to declare TensorFlow's long enum list. Only what the converters use
is declared; the parser skips every other field it meets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from config.errors import ModelError

# TensorFlow's DataType numbers of the dtypes a frozen conv net's constants use
DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 9: np.int64, 10: np.bool_, 19: np.float16}
_PACKAGE = "facestream_tf"


def _message_classes() -> dict[str, type]:
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    F = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(
        name="facestream_tf_graph.proto", package=_PACKAGE, syntax="proto3"
    )

    def message(name: str, *fields: tuple, parent=None):
        msg = (parent.nested_type if parent is not None else fdp.message_type).add(name=name)
        for number, fname, ftype, label, type_name in fields:
            field = msg.field.add(name=fname, number=number, type=ftype, label=label)
            if type_name:
                field.type_name = f".{_PACKAGE}.{type_name}"
        return msg

    opt, rep = F.LABEL_OPTIONAL, F.LABEL_REPEATED
    message("Dim", (1, "size", F.TYPE_INT64, opt, None), (2, "name", F.TYPE_STRING, opt, None))
    message(
        "TensorShapeProto",
        (2, "dim", F.TYPE_MESSAGE, rep, "Dim"),
        (3, "unknown_rank", F.TYPE_BOOL, opt, None),
    )
    message(
        "TensorProto",
        (1, "dtype", F.TYPE_INT32, opt, None),
        (2, "tensor_shape", F.TYPE_MESSAGE, opt, "TensorShapeProto"),
        (4, "tensor_content", F.TYPE_BYTES, opt, None),
        (5, "float_val", F.TYPE_FLOAT, rep, None),
        (6, "double_val", F.TYPE_DOUBLE, rep, None),
        (7, "int_val", F.TYPE_INT32, rep, None),
        (10, "int64_val", F.TYPE_INT64, rep, None),
        (11, "bool_val", F.TYPE_BOOL, rep, None),
    )
    message(
        "ListValue",
        (2, "s", F.TYPE_BYTES, rep, None),
        (3, "i", F.TYPE_INT64, rep, None),
        (4, "f", F.TYPE_FLOAT, rep, None),
        (5, "b", F.TYPE_BOOL, rep, None),
        (6, "type", F.TYPE_INT32, rep, None),
    )
    message(
        "AttrValue",
        (1, "list", F.TYPE_MESSAGE, opt, "ListValue"),
        (2, "s", F.TYPE_BYTES, opt, None),
        (3, "i", F.TYPE_INT64, opt, None),
        (4, "f", F.TYPE_FLOAT, opt, None),
        (5, "b", F.TYPE_BOOL, opt, None),
        (6, "type", F.TYPE_INT32, opt, None),
        (7, "shape", F.TYPE_MESSAGE, opt, "TensorShapeProto"),
        (8, "tensor", F.TYPE_MESSAGE, opt, "TensorProto"),
    )
    # map<string, AttrValue> attr = 5 is, on the wire, a repeated (key=1, value=2) entry message
    node = message(
        "NodeDef",
        (1, "name", F.TYPE_STRING, opt, None),
        (2, "op", F.TYPE_STRING, opt, None),
        (3, "input", F.TYPE_STRING, rep, None),
        (4, "device", F.TYPE_STRING, opt, None),
        (5, "attr", F.TYPE_MESSAGE, rep, "NodeDef.AttrEntry"),
    )
    entry = message(
        "AttrEntry",
        (1, "key", F.TYPE_STRING, opt, None),
        (2, "value", F.TYPE_MESSAGE, opt, "AttrValue"),
        parent=node,
    )
    entry.options.map_entry = True
    message("GraphDef", (1, "node", F.TYPE_MESSAGE, rep, "NodeDef"))

    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return {
        name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{_PACKAGE}.{name}"))
        for name in ("GraphDef", "NodeDef", "TensorProto")
    }


@dataclass(frozen=True)
class Node:
    name: str
    op: str
    inputs: tuple[str, ...]
    attr: dict  # attribute name -> AttrValue message


def tensor_to_numpy(tensor) -> np.ndarray:
    """A TensorProto -> numpy array (raw ``tensor_content`` or the typed ``*_val`` lists)."""
    if tensor.dtype not in DTYPES:
        raise ModelError(
            f"tensor dtype: expected one of TensorFlow's {sorted(DTYPES)}, got {tensor.dtype}"
        )
    dtype = np.dtype(DTYPES[tensor.dtype])
    shape = tuple(int(d.size) for d in tensor.tensor_shape.dim)
    count = int(np.prod(shape)) if shape else 1
    if tensor.tensor_content:
        arr = np.frombuffer(tensor.tensor_content, dtype.newbyteorder("<")).astype(dtype)
    else:
        values = {
            np.float32: tensor.float_val,
            np.float64: tensor.double_val,
            np.int32: tensor.int_val,
            np.int64: tensor.int64_val,
            np.bool_: tensor.bool_val,
            np.float16: tensor.int_val,
        }[DTYPES[tensor.dtype]]
        arr = np.asarray(list(values), dtype)
        if arr.size == 1 and count > 1:  # TensorFlow stores a constant fill as one value
            arr = np.full(count, arr[0], dtype)
    if arr.size != count:
        raise ModelError(f"tensor of shape {shape}: expected {count} values, got {arr.size}")
    return arr.reshape(shape)


class FrozenGraph:
    """Nodes of a frozen graph by name, and its constants as numpy arrays."""

    def __init__(self, data: bytes, source: str = "graph"):
        from google.protobuf.message import DecodeError

        classes = _message_classes()
        graph = classes["GraphDef"]()
        try:
            graph.ParseFromString(data)
        except (DecodeError, RuntimeError) as exc:  # RuntimeError: the C++ parser's recursion limit
            raise ModelError(
                f"{source}: not a TensorFlow GraphDef ({type(exc).__name__}: {exc})"
            ) from None
        self.source = source
        self.nodes: dict[str, Node] = {
            n.name: Node(n.name, n.op, tuple(n.input), {k: v for k, v in n.attr.items()})
            for n in graph.node
        }
        if not self.nodes:
            raise ModelError(
                f"{source}: a TensorFlow GraphDef with nodes, got an empty graph "
                f"({len(data)} bytes)"
            )

    @classmethod
    def load(cls, path) -> FrozenGraph:
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            raise ModelError(f"{path}: cannot read ({exc.strerror})") from None
        return cls(data, str(path))

    def constants(self) -> dict[str, np.ndarray]:
        return {
            n.name: tensor_to_numpy(n.attr["value"].tensor)
            for n in self.nodes.values()
            if n.op == "Const" and "value" in n.attr
        }

    def constant(self, name: str) -> np.ndarray:
        node = self.nodes.get(name)
        if node is None or node.op != "Const":
            raise ModelError(
                f"{self.source}: expected a constant named {name!r}, "
                f"got {'nothing' if node is None else 'a ' + node.op + ' node'}"
            )
        return tensor_to_numpy(node.attr["value"].tensor)
