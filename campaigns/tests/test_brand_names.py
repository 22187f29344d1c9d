"""Brand names are unique per tenant ignoring case, decided by a database constraint on (tenant, lower(name)): the
service's old check-then-insert let concurrent creates through (10 concurrent posts made 2 brands)."""

from __future__ import annotations

import importlib
import threading
from pathlib import Path

import pytest
from django.apps import apps
from django.db import IntegrityError, connection, transaction

import campaigns.migrations
from campaigns.models import Brand
from campaigns.services import brand_create
from core.errors import DomainError
from rmn_site.tests.api_support import API, assert_error, client_for


def test_the_database_refuses_a_name_that_differs_only_in_case(tenants):
    Brand.objects.create(tenant=tenants["acme"], name="Acme Organics")
    with pytest.raises(IntegrityError), transaction.atomic():
        Brand.objects.create(tenant=tenants["acme"], name="ACME organics")
    Brand.objects.create(tenant=tenants["globex"], name="ACME organics")  # another tenant may use it
    assert Brand.objects.filter(name__iexact="acme organics").count() == 2


def test_the_service_turns_the_constraint_into_an_error_naming_name(tenants, personas):
    brand_create(tenant=tenants["acme"], name="Acme Organics")
    with pytest.raises(DomainError) as caught:
        brand_create(tenant=tenants["acme"], name="  acme ORGANICS ")
    assert caught.value.field == "name" and "already exists" in caught.value.message
    response = client_for(personas["marketer"]).post(f"{API}/brands/", {"name": "ACME ORGANICS"})
    assert_error(response, 400, field="name", mentions=("already exists",))
    assert Brand.objects.filter(tenant=tenants["acme"], name__iexact="acme organics").count() == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers need a server database")
@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_make_one_brand(tenants):
    names = ["Acme Organics", "acme organics", "ACME ORGANICS", "Acme organics", "acme Organics"] * 2
    barrier = threading.Barrier(len(names))
    outcomes: list[str] = []

    def create(name: str) -> None:
        try:
            barrier.wait()
            brand_create(tenant=tenants["acme"], name=name)
            outcomes.append("created")
        except DomainError as exc:
            outcomes.append(f"refused:{exc.field}")
        finally:
            connection.close()  # each thread has its own connection

    threads = [threading.Thread(target=create, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["created"] + ["refused:name"] * (len(names) - 1)
    assert Brand.objects.filter(tenant=tenants["acme"], name__iexact="acme organics").count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_migration_renames_existing_case_duplicates_so_the_constraint_can_be_added(tenants):
    # Found by name: the migration's number may change when branches merge.
    folder = Path(campaigns.migrations.__file__).parent
    module_name = next(p.stem for p in folder.glob("*_brand_name_unique_ignoring_case.py"))
    migration = importlib.import_module(f"campaigns.migrations.{module_name}")
    constraint = Brand._meta.constraints[0]
    with connection.schema_editor() as editor:
        editor.remove_constraint(Brand, constraint)
    try:
        acme, globex = tenants["acme"], tenants["globex"]
        for tenant, name in [(acme, "Crunch"), (acme, "CRUNCH"), (acme, "crunch"), (acme, "Crunch (2)"),
                             (globex, "crunch"), (acme, "Other")]:  # fmt: skip
            Brand.objects.create(tenant=tenant, name=name)
        migration.rename_case_duplicates(apps, None)
    finally:
        with connection.schema_editor() as editor:
            editor.add_constraint(Brand, constraint)
    assert sorted(Brand.objects.filter(tenant=tenants["acme"]).values_list("name", flat=True)) == [
        "CRUNCH (3)", "Crunch", "Crunch (2)", "Other", "crunch (4)",
    ]  # fmt: skip
    assert list(Brand.objects.filter(tenant=tenants["globex"]).values_list("name", flat=True)) == ["crunch"]
