"""Buckets and the pipeline's own MinIO account, limited to those buckets.

The root account is used here and nowhere else: pipelines run as the account
this creates. Used by ``make up``, the test fixtures and the production
``minio-init`` container (``python -m fieldhouse provision``).
"""

from __future__ import annotations

from fieldhouse.config import StorageSettings
from fieldhouse.storage.keys import Bucket
from fieldhouse.storage.objects import ObjectStore

PIPELINE_POLICY = "fieldhouse-pipeline-rw"


def pipeline_policy() -> dict:
    """Read/write on the platform's buckets, nothing else."""
    buckets = [str(b) for b in Bucket]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    "s3:GetBucketLocation",
                    "s3:ListBucket",
                    "s3:ListBucketMultipartUploads",
                ],
                "Resource": [f"arn:aws:s3:::{b}" for b in buckets],
            },
            {
                "Effect": "Allow",
                "Action": [
                    "s3:GetObject",
                    "s3:PutObject",
                    "s3:DeleteObject",
                    "s3:AbortMultipartUpload",
                    "s3:ListMultipartUploadParts",
                ],
                "Resource": [f"arn:aws:s3:::{b}/*" for b in buckets],
            },
        ],
    }


def provision(root: StorageSettings, pipeline: StorageSettings) -> StorageSettings:
    """Create missing buckets and the pipeline account (idempotent); returns ``pipeline``."""
    from minio import MinioAdmin
    from minio.credentials import StaticProvider

    ObjectStore(root).ensure_buckets()
    admin = MinioAdmin(
        endpoint=root.endpoint,
        credentials=StaticProvider(root.access_key, root.secret_key),
        secure=root.secure,
    )
    admin.policy_add(PIPELINE_POLICY, policy=pipeline_policy())
    admin.user_add(pipeline.access_key, pipeline.secret_key)
    admin.policy_set(PIPELINE_POLICY, user=pipeline.access_key)
    return pipeline
