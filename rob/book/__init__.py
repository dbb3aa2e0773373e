"""The machinery that runs the book, apart from the mathematics in :mod:`rob`.

- :mod:`rob.book.cli`       the ``rob`` command: list, run, status, build, student
- :mod:`rob.book.build`     papermill execution of a chapter, staging and ``jupyter-book build``
- :mod:`rob.book.chapters`  the chapter registry (papers, theorems, runtimes, parameter bounds)
- :mod:`rob.book.params`    parameter validation, device selection, thread pinning
- :mod:`rob.book.checks`    quantitative checks recorded as data (value, target, tolerance, pass/fail)
- :mod:`rob.book.cache`     on-disk cache of expensive computations, keyed by arguments and source
- :mod:`rob.book.plotting`  the book's figure style, glue and figure export (PNG, SVG, CSV)
- :mod:`rob.book.progress`  plain-text tqdm progress bars for sweeps
- :mod:`rob.book.executor`  sweeps as tasks: serial, a local Dask cluster or a scheduler address
- :mod:`rob.book.plan`      `rob plan`: CPU time per task kind and predicted wall time on N workers
- :mod:`rob.book.student`   stripping solutions for hand-outs
"""
