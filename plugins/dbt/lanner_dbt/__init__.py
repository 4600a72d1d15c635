"""Lanner's dbt plugin: Kestra's ``io.kestra.plugin.dbt.cli.DbtCLI`` and its older one-command tasks."""
