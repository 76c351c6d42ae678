"""Which callables a model pickle may import: an allowlist, with a denylist for severity.

A denylist alone loses: every picklescan release since 2023 added names someone used
to get past it (``pip.main``, ``pkgutil.resolve_name``, ``operator.methodcaller``,
``asyncio`` subprocess transports, profilers, ``idlelib``...). So the decision here is
an ALLOWLIST of what real model files made by numpy, torch, scikit-learn, xgboost,
lightgbm, joblib, pandas and scipy import; anything else is UNKNOWN and still a finding.
The denylist only decides that a name is not merely unknown but a known way to run code,
read or write files, reach the network or load another serialized payload: CRITICAL.

Names are compared after the Python 2 aliases the unpickler itself applies
(``__builtin__`` -> ``builtins``), after NFKC folding (a confusable ``ｏｓ`` is judged as
``os`` and, being an evasion, as dangerous), and as a whole dotted path, because since
protocol 4 ``find_class`` walks dotted names attribute by attribute.
"""

from __future__ import annotations

import enum
import unicodedata
from dataclasses import dataclass

__all__ = ["Decision", "Verdict", "classify"]


class Verdict(enum.Enum):
    """What the policy thinks of one imported name."""

    SAFE = "safe"
    UNKNOWN = "unknown"
    DANGEROUS = "dangerous"


@dataclass(frozen=True)
class Decision:
    """A verdict and the reason a person reads in the finding."""

    verdict: Verdict
    reason: str


_SAFE_EXACT = frozenset(
    {
        # builtins and the standard library that plain data pickles use
        *(
            f"builtins.{n}"
            for n in (  # noqa: SIM905 - a word list reads better
                "set frozenset bytearray bytes complex slice range object tuple list dict "
                "int float str bool type NoneType Ellipsis NotImplemented"
            ).split()
        ),
        "copyreg._reconstructor",
        "copyreg.__newobj__",
        "copyreg.__newobj_ex__",
        "_codecs.encode",
        "codecs.encode",
        "collections.OrderedDict",
        "collections.defaultdict",
        "collections.Counter",
        "collections.deque",
        "datetime.datetime",
        "datetime.date",
        "datetime.time",
        "datetime.timedelta",
        "datetime.timezone",
        "decimal.Decimal",
        "fractions.Fraction",
        "uuid.UUID",
        "uuid.SafeUUID",
        "zoneinfo.ZoneInfo",
        "enum.Enum",
        # numpy array, scalar, dtype and random-state reconstruction (numpy 1 and 2 paths)
        *(
            f"{m}.{n}"
            for m in ("numpy.core.multiarray", "numpy._core.multiarray")
            for n in ("_reconstruct", "scalar")
        ),
        "numpy.core.numeric._frombuffer",
        "numpy._core.numeric._frombuffer",
        "numpy.ndarray",
        "numpy.dtype",
        "numpy.ma.core._mareconstruct",
        "numpy.ma.core.MaskedArray",
        "numpy.random._pickle.__randomstate_ctor",
        "numpy.random._pickle.__bit_generator_ctor",
        "numpy.random._pickle.__generator_ctor",
        *(
            f"numpy.{n}"
            for n in (  # noqa: SIM905 - a word list reads better
                "bool_ int8 int16 int32 int64 uint8 uint16 uint32 uint64 float16 float32 "
                "float64 longdouble complex64 complex128 str_ bytes_ void object_ "
                "datetime64 timedelta64 intc uintc longlong ulonglong"
            ).split()
        ),
        # torch tensors, storages, parameters and dtypes
        *(
            f"torch._utils.{n}"
            for n in (  # noqa: SIM905 - a word list reads better
                "_rebuild_tensor _rebuild_tensor_v2 _rebuild_tensor_v3 _rebuild_parameter "
                "_rebuild_parameter_with_state _rebuild_sparse_tensor _rebuild_qtensor "
                "_rebuild_device_tensor_from_numpy _rebuild_meta_tensor_no_storage "
                "_rebuild_nested_tensor _rebuild_wrapper_subclass _rebuild_device_tensor_from_cpu_tensor"
            ).split()
        ),
        "torch._tensor._rebuild_from_type_v2",
        "torch._utils._rebuild_from_type_v2",
        "torch.Size",
        "torch.device",
        "torch.Tensor",
        "torch.storage.UntypedStorage",
        "torch.storage.TypedStorage",
        "torch.serialization._get_layout",
        *(
            f"torch.{n}"
            for n in (  # noqa: SIM905 - a word list reads better
                "float16 float32 float64 bfloat16 half float double int8 int16 int32 int64 "
                "uint8 bool complex64 complex128 long int short strided sparse_coo "
                "channels_last contiguous_format preserve_format per_tensor_affine"
            ).split()
        ),
        # joblib's placeholders for arrays written next to the pickle
        "joblib.numpy_pickle.NumpyArrayWrapper",
        "joblib.numpy_pickle_compat.NDArrayWrapper",
        "sklearn.externals.joblib.numpy_pickle.NumpyArrayWrapper",
        # pandas unpickling helpers (functions, so they are named one by one)
        "pandas.core.indexes.base._new_Index",
        "pandas.core.internals.blocks.new_block",
        "pandas.core.internals.blocks.maybe_coerce_values",
        "pandas._libs.internals._unpickle_block",
        "pandas._libs.arrays.__pyx_unpickle_NDArrayBacked",
        "pandas._libs.tslibs.timestamps._unpickle_timestamp",
        "pandas._libs.tslibs.timedeltas._timedelta_unpickle",
        "pandas._libs.tslibs.nattype.__nat_unpickle",
        "pandas.core.arrays.categorical._unpickle_categorical",
        "pandas._libs.tslibs.offsets._unpickle_offset",
        "pandas.core.internals.managers.BlockManager",
        # pandas 3 backs its default string dtype with pyarrow when pyarrow is installed, so
        # a plain DataFrame pickle rebuilds Arrow arrays: the array from (type, length,
        # buffers), a type from its alias string, a buffer over bytes; all pure data.
        "pyarrow.lib._restore_array",
        "pyarrow.lib.type_for_alias",
        "pyarrow.lib.py_buffer",
        # the missing-value singleton those string dtypes pickle as their na_value
        "pandas.NA",
        "pandas._libs.missing.NA",
        # scikit-learn helpers that are functions but only rebuild objects
        "sklearn.tree._tree._unpickle_tree",
    }
)

_SPARSE = frozenset(
    f"{k}_{t}"
    for k in ("csr", "csc", "coo", "lil", "dok", "bsr", "dia")
    for t in ("matrix", "array")
)

_CLASS_MODULES = (
    "sklearn",
    "xgboost",
    "lightgbm",
    "pandas",
    "scipy.sparse",
    "numpy.dtypes",
    "numpy._core",
    "numpy.core",
    "numpy.random",
    "torch.nn.modules",
    "torch.nn.parameter",
    "torch.nn.utils.parametrize",
    "torch.storage",
    "torch.ao.quantization",
)
"""Packages whose classes (CapWords names) are allowed: constructing an estimator or a
layer runs its ``__init__``/``__setstate__``, which these libraries write to be inert."""

_CLASS_DENIED_MODULES = (
    "sklearn.utils._testing",
    "sklearn.externals._packaging",
    "sklearn.datasets",
    "pandas.io",
    "pandas.util",
    "pandas._testing",
    "numpy.testing",
)

_DANGEROUS_PREFIXES = frozenset(
    (  # noqa: SIM905 - a word list reads better
        # processes and the operating system
        "os posix nt subprocess _posixsubprocess pty tty shutil commands popen2 _winapi msvcrt "
        "winreg signal resource platform.popen platform._syscmd_ver uuid._get_command_stdout "
        "asyncio multiprocessing concurrent threading _thread _xxsubinterpreters "
        # code execution, import and reflection
        "builtins.eval builtins.exec builtins.compile builtins.getattr builtins.setattr "
        "builtins.delattr builtins.__import__ builtins.open builtins.breakpoint builtins.input "
        "builtins.globals builtins.locals builtins.vars builtins.help builtins.exit builtins.quit "
        "builtins.memoryview builtins.__build_class__ builtins.__loader__ builtins.__spec__ "
        "importlib imp runpy pkgutil zipimport marshal types ctypes _ctypes code codeop sys "
        "inspect gc site sysconfig linecache pydoc idlelib lib2to3 distutils setuptools "
        "pip ensurepip venv operator.attrgetter operator.methodcaller operator.itemgetter "
        "_operator functools.partial functools.reduce functools.partialmethod _functools "
        "timeit cProfile profile trace pdb bdb doctest unittest code.InteractiveInterpreter "
        "ast dis string.Template.substitute "
        # nested deserializers
        "pickle _pickle cPickle pickletools dill cloudpickle joblib.load joblib.numpy_pickle.load "
        "joblib.numpy_pickle_compat.load numpy.load numpy.lib.npyio numpy.lib.format numpy.f2py "
        "numpy.testing numpy.distutils numpy._core._ufunc_reconstruct "
        "numpy.core._ufunc_reconstruct yaml ruamel shelve dbm jsonpickle marshmallow "
        "torch.load torch.serialization torch.storage._load_from_bytes torch.jit torch._dynamo "
        "torch._inductor torch.fx torch.utils.bottleneck torch.utils.cpp_extension torch.hub "
        "torch.package torch._C torch.ops torch.compile torch._export tensorflow keras "
        "pandas.read_pickle pandas.io "
        # files and the network
        "io _io tempfile glob fileinput zipfile tarfile mmap pathlib socket _socket ssl "
        "socketserver http httplib urllib urllib2 urllib3 requests aiohttp httpx ftplib "
        "smtplib telnetlib poplib imaplib xmlrpc webbrowser sqlite3 logging.config"
    ).split()
)

_DANGEROUS_NAMES = frozenset(
    (  # noqa: SIM905 - a word list reads better
        "system popen popen2 popen3 exec execv execve execl execlp execvp spawn spawnv spawnl "
        "spawnve eval execfile __import__ import_module run_path run_module runcode runsource "
        "check_output check_call Popen getoutput getstatusoutput resolve_name loads load "
        "load_module exec_module startfile __getattribute__ __reduce__ __reduce_ex__ "
        "__subclasses__ __globals__ __builtins__ __code__ __dict__ __class__ __bases__ __mro__"
    ).split()
)


def _is_class_name(name: str) -> bool:
    return name[:1].isupper() and name.isidentifier() and not name.isupper()


def _under(qual: str, prefix: str) -> bool:
    return qual == prefix or qual.startswith(prefix + ".")


def classify(module: str, name: str) -> Decision:
    """Judge one imported ``module``/``name`` pair (as the pickle spells it)."""
    folded_mod = unicodedata.normalize("NFKC", module)
    folded_name = unicodedata.normalize("NFKC", name)
    confusable = (folded_mod, folded_name) != (module, name) or not (module + name).isascii()
    if folded_mod in ("__builtin__", "exceptions"):
        folded_mod = "builtins"
    qual = f"{folded_mod}.{folded_name}"
    parts = folded_name.split(".")
    danger = _danger(qual, parts)
    if danger is not None:
        if confusable:
            danger = f"{danger} (spelled with look-alike characters to evade scanners)"
        return Decision(Verdict.DANGEROUS, danger)
    if confusable:
        return Decision(Verdict.DANGEROUS, "non-ASCII or look-alike characters in an import")
    if qual in _SAFE_EXACT:
        return Decision(Verdict.SAFE, "known model-reconstruction callable")
    if len(parts) == 1 and not any(_under(folded_mod, m) for m in _CLASS_DENIED_MODULES):
        if _is_class_name(name) and any(_under(folded_mod, m) for m in _CLASS_MODULES):
            return Decision(Verdict.SAFE, "class of an allowlisted ML library")
        if name in _SPARSE and _under(folded_mod, "scipy.sparse"):
            return Decision(Verdict.SAFE, "scipy sparse matrix class")
        if _under(folded_mod, "torch") and name.endswith("Storage") and _is_class_name(name):
            return Decision(Verdict.SAFE, "torch storage class")
    return Decision(Verdict.UNKNOWN, "not on the allowlist of model-reconstruction callables")


def _danger(qual: str, parts: list[str]) -> str | None:
    for prefix in _DANGEROUS_PREFIXES:
        if _under(qual, prefix):
            return f"{prefix} is a known code-execution, file, network or nested-load path"
    for part in parts:
        if part in _DANGEROUS_NAMES:
            return f"{part!r} is a known code-execution or reflection name"
        if part.startswith("__") and part.endswith("__") and len(parts) > 1:
            return f"dotted lookup through {part!r} walks object internals"
    return None
