"""Which model modules the database holds: the engine's and this domain's."""

MODEL_MODULES = ("engine.models", "workflows.models")
