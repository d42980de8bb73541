"""Buckets and the platform's MinIO accounts: one per role, each with the least it needs.

The root account is used here and nowhere else. Airflow's tasks run as their
role's account (:data:`ROLE_CONNECTIONS`), people and devices that drop files
use the landing account, and the operator account (the stack's command line and
the test suite) reads and writes the data buckets. No account but root can
create accounts, service accounts or policies: every policy denies ``admin:*``,
which MinIO otherwise lets a user do for itself (create a service account, a
credential that outlives a rotation of the user's secret).

Used by ``make up``, the test fixtures and the production ``minio-init``
container (``python -m fieldhouse provision``).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from fieldhouse.config import StorageSettings, role_connection_id
from fieldhouse.storage.keys import Bucket
from fieldhouse.storage.objects import ObjectStore


class Role(StrEnum):
    """Who touches the object store, as its MinIO account is named (``fieldhouse-<role>``)."""

    LANDING = "landing"  # people and devices dropping files
    INGEST = "ingest"  # the ingestion DAGs
    TRANSFORM = "transform"  # transform_lake (dbt)
    ML = "ml"  # train_models, monitor_drift and MLflow's server
    OPERATOR = "pipeline"  # the command line and the test suite

    @property
    def user(self) -> str:
        return f"fieldhouse-{self.value}"

    @property
    def policy(self) -> str:
        return f"fieldhouse-{self.value}"


class Op(StrEnum):
    LIST = "list"
    GET = "get"
    PUT = "put"
    DELETE = "delete"


READ = frozenset({Op.LIST, Op.GET})
READ_WRITE = frozenset(Op)

GRANTS: Mapping[Role, Mapping[Bucket, frozenset[Op]]] = {
    # Put only: a dropped file cannot be read back, listed or removed with this key.
    Role.LANDING: {Bucket.LANDING: frozenset({Op.PUT})},
    # Claims move files inside landing; reruns replace raw and quarantine partitions.
    Role.INGEST: {
        Bucket.LANDING: READ_WRITE,
        Bucket.RAW: READ_WRITE,
        Bucket.QUARANTINE: READ_WRITE,
    },
    # Staging reads raw (and counts quarantine); DuckLake writes, compacts and expires
    # the lake's files.
    Role.TRANSFORM: {Bucket.RAW: READ, Bucket.QUARANTINE: READ, Bucket.LAKE: READ_WRITE},
    # Features from the lake, score and drift tables back into it, models, reports.
    Role.ML: {Bucket.LAKE: READ_WRITE, Bucket.MODELS: READ_WRITE, Bucket.REPORTS: READ_WRITE},
    Role.OPERATOR: {bucket: READ_WRITE for bucket in Bucket},
}
"""What each role may do in each bucket; a bucket a role is not given is closed to it."""

TASK_ROLES = (Role.INGEST, Role.TRANSFORM, Role.ML)

ROLE_CONNECTIONS: Mapping[Role, str] = {role: role_connection_id(role) for role in TASK_ROLES}
"""The Airflow connection each task role reads its account from."""

_OBJECT_ACTIONS = {
    Op.GET: ["s3:GetObject"],
    Op.PUT: ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
    Op.DELETE: ["s3:DeleteObject"],
}


def role_policy(role: Role) -> dict:
    """The IAM policy of ``role``: its grants, and an explicit deny of every admin call."""
    statements: list[dict] = []
    for bucket, ops in GRANTS[role].items():
        # Clients ask a bucket's location before they touch it.
        bucket_actions = ["s3:GetBucketLocation"]
        if Op.LIST in ops:
            bucket_actions += ["s3:ListBucket", "s3:ListBucketMultipartUploads"]
        statements.append(
            {"Effect": "Allow", "Action": bucket_actions, "Resource": [f"arn:aws:s3:::{bucket}"]}
        )
        actions = [action for op in Op if op in ops for action in _OBJECT_ACTIONS.get(op, [])]
        if actions:
            statements.append(
                {"Effect": "Allow", "Action": actions, "Resource": [f"arn:aws:s3:::{bucket}/*"]}
            )
    statements.append({"Effect": "Deny", "Action": ["admin:*"], "Resource": ["arn:aws:s3:::*"]})
    return {"Version": "2012-10-17", "Statement": statements}


def provision(root: StorageSettings, accounts: Mapping[Role, StorageSettings]) -> None:
    """Create missing buckets, each role's policy and account (idempotent).

    ``accounts`` holds the credentials to give each role; a role left out gets
    no account. Re-running sets the secrets and policies again, so a rotated
    secret or a changed grant takes effect.
    """
    from minio import MinioAdmin
    from minio.credentials import StaticProvider

    ObjectStore(root).ensure_buckets()
    admin = MinioAdmin(
        endpoint=root.endpoint,
        credentials=StaticProvider(root.access_key, root.secret_key),
        secure=root.secure,
    )
    for role, account in accounts.items():
        admin.policy_add(role.policy, policy=role_policy(role))
        admin.user_add(account.access_key, account.secret_key)
        admin.policy_set(role.policy, user=account.access_key)
