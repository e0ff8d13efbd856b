"""The generic case engine: definitions, instances, human tasks, timers, sandbox, audit, clock.

Nothing here knows about members or Flask; SpiffWorkflow is imported by `engine.spiff` only.
"""
