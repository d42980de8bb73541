"""Every account against every bucket and operation, and the admin calls, on a real MinIO.

The expected cell comes from :data:`fieldhouse.storage.provision.GRANTS`, the
table the README shows; each cell is tried, so a policy that grants more (or
less) than the table says fails here.
"""

from __future__ import annotations

import io
import secrets

import pytest
from minio import Minio, MinioAdmin
from minio.credentials import StaticProvider
from minio.error import MinioAdminException, S3Error

from fieldhouse import localstack
from fieldhouse.config import StorageSettings
from fieldhouse.storage.keys import Bucket
from fieldhouse.storage.provision import GRANTS, Op, Role

PROBE = "_access-probe/probe.txt"


def client(settings: StorageSettings) -> Minio:
    return Minio(
        settings.endpoint,
        access_key=settings.access_key,
        secret_key=settings.secret_key,
        secure=settings.secure,
    )


def admin(settings: StorageSettings) -> MinioAdmin:
    return MinioAdmin(
        endpoint=settings.endpoint,
        credentials=StaticProvider(settings.access_key, settings.secret_key),
        secure=settings.secure,
    )


def attempt(op: Op, s3: Minio, bucket: Bucket) -> bool:
    """Try one operation; True if allowed, False if refused with AccessDenied."""
    try:
        if op is Op.LIST:
            list(s3.list_objects(bucket, prefix="_access-probe/"))
        elif op is Op.GET:
            s3.get_object(bucket, PROBE).read()
        elif op is Op.PUT:
            s3.put_object(bucket, "_access-probe/put.txt", io.BytesIO(b"x"), 1)
        else:
            s3.remove_object(bucket, PROBE)
    except S3Error as error:
        assert error.code == "AccessDenied", error
        return False
    return True


@pytest.fixture(scope="module")
def accounts(
    stack_config: localstack.StackConfig, minio_server: StorageSettings
) -> dict[Role, StorageSettings]:
    return {role: stack_config.role_settings(role) for role in Role}


CELLS = [(role, bucket, op) for role in Role for bucket in Bucket for op in Op]


@pytest.mark.parametrize(
    ("role", "bucket", "op"), CELLS, ids=[f"{r.value}-{b}-{o}" for r, b, o in CELLS]
)
def test_each_cell_of_the_matrix(
    role: Role,
    bucket: Bucket,
    op: Op,
    accounts: dict[Role, StorageSettings],
    stack_config: localstack.StackConfig,
) -> None:
    root = client(stack_config.root_settings)
    root.put_object(bucket, PROBE, io.BytesIO(b"probe"), 5)
    allowed = op in GRANTS[role].get(bucket, frozenset())
    assert attempt(op, client(accounts[role]), bucket) is allowed
    # What was refused left no trace; what was allowed did what it says.
    names = {o.object_name for o in root.list_objects(bucket, prefix="_access-probe/")}
    assert (PROBE in names) is not (op is Op.DELETE and allowed)
    assert ("_access-probe/put.txt" in names) is (op is Op.PUT and allowed)
    for name in names:
        root.remove_object(bucket, name)


@pytest.mark.parametrize("role", list(Role), ids=[r.value for r in Role])
def test_no_account_but_root_makes_accounts_or_policies(
    role: Role, accounts: dict[Role, StorageSettings], stack_config: localstack.StackConfig
) -> None:
    own = admin(accounts[role])
    name = f"probe-{secrets.token_hex(4)}"
    calls = {
        "create a service account for itself": lambda: own.add_service_account(
            access_key=name, secret_key=secrets.token_urlsafe(12)
        ),
        "create a user": lambda: own.user_add(name, secrets.token_urlsafe(12)),
        "add a policy": lambda: own.policy_add(
            name, policy={"Version": "2012-10-17", "Statement": []}
        ),
        "attach a policy to itself": lambda: own.policy_set(
            "readwrite", user=accounts[role].access_key
        ),
        "list users": own.user_list,
        "list policies": own.policy_list,
    }
    for what, call in calls.items():
        with pytest.raises(MinioAdminException) as refused:
            call()
        assert refused.value._code == "403", what
    # Root can: the refusals above are the policy's, not a broken admin client.
    users = admin(stack_config.root_settings).user_list()
    assert accounts[role].access_key in users
    assert name not in users
