"""Lanner's cloud storage plugin: Kestra's S3 tasks and trigger (and GCS / Azure Blob) on fsspec.

One provider-neutral core (:mod:`lanner_cloud_storage.objects`: listing with
Kestra's filters, streamed transfers to and from internal storage, copies,
deletes, and one-sentence errors) serves every provider; a provider only says
how to build its fsspec file system from the task's connection properties
(:mod:`lanner_cloud_storage.s3_connection` for S3 and S3-compatible servers).
"""
