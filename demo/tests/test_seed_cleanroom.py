import json
import stat

import pytest
from django.core.management import CommandError, call_command

from governance.clean_rooms import clean_room_query
from governance.models import APIKey, CleanRoomDataset, PrivacySpend


@pytest.fixture
def keys_file(settings, tmp_path):
    settings.CLEANROOM_KEYS_FILE = tmp_path / "var" / "cleanroom_keys.json"
    return settings.CLEANROOM_KEYS_FILE


def test_it_seeds_the_shoppers_and_writes_a_working_private_key(catalog, keys_file, capsys):
    call_command("seed_cleanroom", "--tenant", "acme", "--shoppers", "600")
    dataset = CleanRoomDataset.objects.get(tenant__slug="acme")
    assert dataset.slug == "amazon-shoppers" and dataset.shoppers.count() == 600
    # Every exposure names one of the tenant's campaigns at that retailer.
    assert set(dataset.exposures.values_list("campaign_id", flat=True)) == {"acme-amazon"}
    assert dataset.purchases.exists()
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    raw = json.loads(keys_file.read_text())["acme"]
    key = APIKey.objects.get(prefix=raw.split("_")[1])
    assert key.tenant.slug == "acme" and key.is_active and key.key_hash == APIKey.hash_secret(raw)
    assert "Seeded clean-room dataset amazon-shoppers of acme." in capsys.readouterr().out


def test_a_second_run_keeps_the_data_and_the_key_and_reset_keeps_the_ledger(catalog, keys_file, capsys):
    call_command("seed_cleanroom", "--tenant", "acme", "--shoppers", "600")
    first_key = json.loads(keys_file.read_text())["acme"]
    dataset = CleanRoomDataset.objects.get(tenant__slug="acme")
    clean_room_query(
        dataset=dataset, sql="SELECT COUNT(DISTINCT shopper_id) AS n FROM shoppers", release=True, epsilon=0.3
    )
    call_command("seed_cleanroom", "--tenant", "acme", "--shoppers", "700")
    assert "Kept clean-room dataset" in capsys.readouterr().out
    assert dataset.shoppers.count() == 600 and json.loads(keys_file.read_text())["acme"] == first_key
    call_command("seed_cleanroom", "--tenant", "acme", "--shoppers", "700", "--reset")
    assert dataset.shoppers.count() == 700
    assert PrivacySpend.objects.filter(dataset=dataset).count() == 1


def test_it_refuses_an_unknown_tenant(db, keys_file):
    with pytest.raises(CommandError, match="nope"):
        call_command("seed_cleanroom", "--tenant", "nope")
