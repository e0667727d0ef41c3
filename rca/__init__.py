"""whydunnit: root-cause analysis for software-engineering metrics.

The ``rca`` package holds the engine (:mod:`rca.engine`), the observation store
(:mod:`rca.store`), configuration (:mod:`rca.config`), the pipeline that ties collectors,
store, engine and reports together (:mod:`rca.pipeline`), and its faces: the CLI, the HTTP
API and the scheduler.
"""

__version__ = "0.1.0"
