"""The clinical rules beside the model, on measurement dicts (no model needed)."""

from __future__ import annotations

from cardiopredict.serve._answer import agreement as _agreement
from cardiopredict.serve._answer import clinical_rule as _rule


def test_crt_rule_reads_the_pre_implant_ecg():
    met = _rule("crt", {"pre": {"qrs_duration_ms": 162.0, "lbbb_aha": True}}, None)
    assert met["applicable"] and met["positive"] is True
    narrow = _rule("crt", {"pre": {"qrs_duration_ms": 140.0, "lbbb_aha": True}}, None)
    assert narrow["positive"] is False
    no_pre = _rule("crt", {"post": {"qrs_duration_ms": 162.0, "lbbb_aha": True}}, None)
    assert no_pre["applicable"] is False and "pre-implant" in no_pre["reason"]
    unmeasured = _rule("crt", {"pre": {"qrs_duration_ms": None, "lbbb_aha": True}}, None)
    assert unmeasured["applicable"] is False and unmeasured["reason"]


def test_va_rule_needs_the_lvef():
    assert _rule("va", {}, 30.0)["positive"] is True
    assert _rule("va", {}, 35.0)["positive"] is True
    assert _rule("va", {}, 45.0)["positive"] is False
    assert _rule("va", {}, None)["applicable"] is False
    assert _rule("cardiomyopathy", {}, 30.0) is None


def test_agreement():
    rule = {"applicable": True, "positive": True}
    assert _agreement({"positive": True}, rule) is True
    assert _agreement({"positive": False}, rule) is False
    assert _agreement({"positive": True}, {"applicable": False, "positive": None}) is None
    assert _agreement({"probabilities": {}}, rule) is None
