"""Rule modules.  Every module here is imported by the engine and registers
its rules with :func:`service.clinical.engine.order_rule` or
:func:`service.clinical.engine.chart_rule`."""
