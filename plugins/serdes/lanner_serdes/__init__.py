"""Lanner's file-format plugin: Kestra's ``io.kestra.plugin.serdes.*`` conversions.

Every task reads ``from`` (an internal storage URI), converts row by row and
stores the result, returned as ``outputs.<id>.uri`` with ``outputs.<id>.size``
(rows). Ion rows are Kestra's exchange format (``engine.sdk.read_ion``/``IonWriter``).
"""
