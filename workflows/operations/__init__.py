"""The operations layer: every write a person or system can make, one function each.

Each takes ``(engine, session, actor, ...)``, applies the domain's rules and calls the engine
command, and is run in one unit of work by its entry point: ``engine.run(operation, actor, ...)``
from a web route, the REST API, the ``tawasul`` command or a job. The pages' reads are the read
models beside it, in `workflows.read`.
"""
