"""The ``custodes`` command line.

Two process-wide numerical settings are chosen before numpy is imported, each only when
the user has not set it:

* numpy asks the kernel for transparent huge pages on every large array. Where the
  kernel defragments on that request (``defrag=madvise``, the usual default), a short
  command that allocates a gigabyte of arrays spends a third of a second more in the
  kernel, compacting memory for pages it uses once (``NUMPY_MADVISE_HUGEPAGE=0``).
* OpenBLAS starts a worker per core when numpy loads, and the workers spin for a while
  before they sleep. No command does heavy linear algebra (the checks run their own
  threads; scikit-learn's boosting uses OpenMP), so the spin only took the second core
  from Arrow's decoding: 0.1 s of CPU on a million-row ``data check``
  (``OPENBLAS_NUM_THREADS=1``).
"""

import os

os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
