"""The ``custodes`` command line.

numpy asks the kernel for transparent huge pages on every large array. Where the kernel
defragments on that request (``defrag=madvise``, the usual default), a short command
that allocates a gigabyte of arrays spends a third of a second more in the kernel,
compacting memory for pages it uses once: measured on a million-row ``data check``.
The command turns the request off before numpy is imported, unless the user set
``NUMPY_MADVISE_HUGEPAGE`` themselves.
"""

import os

os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")
