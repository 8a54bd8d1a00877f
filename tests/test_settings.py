import pytest

from playbook import load_settings
from playbook.settings import SettingsError


def test_defaults_are_the_handbooks_rules_of_thumb():
    s = load_settings()
    assert s["lifecycle"]["dormant_days"] == 90 and s["lifecycle"]["churned_days"] == 180
    assert s["fulfillment"]["ship_within_hours"] == 48
    assert s["reputation"]["bad_review_rate_max"] == 0.05
    assert s["fraud"]["order_rate_max"] == 0.003
    assert s["inventory"]["abc_cutoffs"] == [0.80, 0.95]
    assert s.get_path("acquisition.roi_cut") == 1.0


def test_user_file_and_run_overrides(tmp_path):
    f = tmp_path / "shop.toml"
    f.write_text("[lifecycle]\ndormant_days = 60\n[inventory]\nservice_level = { A = 0.99 }\n")
    s = load_settings(f, overrides={"fulfillment.ship_within_hours": 24})
    assert s["lifecycle"]["dormant_days"] == 60 and s["lifecycle"]["churned_days"] == 180
    assert s["fulfillment"]["ship_within_hours"] == 24
    assert s["inventory"]["service_level"] == {"A": 0.99}


def test_unknown_key_and_wrong_type_are_named(tmp_path):
    f = tmp_path / "shop.toml"
    f.write_text("[lifecycle]\ndormant_dayz = 60\n")
    with pytest.raises(SettingsError, match="lifecycle.dormant_dayz"):
        load_settings(f)
    with pytest.raises(SettingsError, match="fraud.order_rate_max"):
        load_settings(overrides={"fraud.order_rate_max": "low"})
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(tmp_path / "missing.toml")


def test_settings_cannot_be_changed_through_the_mapping():
    s = load_settings()
    s["inventory"]["abc_cutoffs"].append(0.99)
    assert load_settings()["inventory"]["abc_cutoffs"] == [0.80, 0.95]
    assert s["inventory"]["abc_cutoffs"] == [0.80, 0.95]
