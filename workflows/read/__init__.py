"""Read models: what each page, the API and the CLI show, read in one read-only unit of work.

Each takes ``(engine, session, actor, ...)`` and applies who may see what in its queries; the
entry point runs it with ``engine.query(read, actor, ...)``. The writes are the operations, in
`workflows.operations`.
"""
