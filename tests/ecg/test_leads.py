import numpy as np
import pytest

from cardiopredict.ecg.leads import CANONICAL_LEADS, canonical_lead_name, to_canonical_leads
from cardiopredict.errors import InputError, LeadError, MissingLeadError, UnknownLeadError


@pytest.mark.parametrize(
    ("alias", "expected"),
    [
        ("i", "I"),
        ("avr", "aVR"),
        ("AVR", "aVR"),
        ("Lead I (Einthoven)", "I"),
        ("MDC_ECG_LEAD_V1", "V1"),
        ("MDC_ECG_LEAD_aVF", "aVF"),
        ("v6", "V6"),
        ("III", "III"),
        ("Lead_II", "II"),
    ],
)
def test_aliases_map_to_canonical_names(alias, expected):
    assert canonical_lead_name(alias) == expected


def test_unknown_lead_names_the_source_and_the_fix():
    with pytest.raises(UnknownLeadError, match=r"'V7'.*in a\.csv.*Rename"):
        canonical_lead_name("V7", source="a.csv")


def test_limb_leads_are_derived_from_i_and_ii():
    rng = np.random.default_rng(0)
    lead_i, lead_ii = rng.normal(size=(2, 100))
    names = ["I", "II", "V1", "V2", "V3", "V4", "V5", "V6"]
    signal = np.vstack([lead_i, lead_ii, rng.normal(size=(6, 100))])
    out, leads, derived = to_canonical_leads(signal, names)
    assert leads == CANONICAL_LEADS
    assert set(derived) == {"III", "aVR", "aVL", "aVF"}
    np.testing.assert_allclose(out[2], lead_ii - lead_i, atol=1e-5)
    # Einthoven/Goldberger identities hold on the derived set.
    np.testing.assert_allclose(out[3] + out[4] + out[5], 0, atol=1e-5)


def test_missing_precordial_lead_is_an_error_naming_it():
    names = ["I", "II", "V1", "V2", "V3", "V4", "V5"]
    with pytest.raises(MissingLeadError, match="V6"):
        to_canonical_leads(np.zeros((7, 10)), names, source="x.xlsx")


def test_missing_lead_ii_cannot_derive_limb_leads():
    names = ["I", "V1", "V2", "V3", "V4", "V5", "V6"]
    with pytest.raises(MissingLeadError, match="derived only when both I and II"):
        to_canonical_leads(np.zeros((7, 10)), names)


def test_duplicate_lead_is_refused_as_duplicated_not_unknown():
    with pytest.raises(LeadError, match=r"appears twice .*a duplicated lead, not an unknown one") as caught:
        to_canonical_leads(np.zeros((2, 10)), ["I", "i"])
    assert not isinstance(caught.value, UnknownLeadError)


def test_rows_and_names_must_agree():
    with pytest.raises(InputError, match=r"2 lead names were given.*one name per signal row"):
        to_canonical_leads(np.zeros((3, 10)), ["I", "II"])
