"""The reliability suite: hostile diagrams, faults, concurrency and web hardening (docs/RELIABILITY.md)."""
