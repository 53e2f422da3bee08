"""Record the reference scores that ``tests/studies/test_golden.py`` compares every study run against.

Run from the repository root: ``.venv/bin/python tests/studies/golden/record.py``. Re-record only on
purpose (a change that is meant to change scores, e.g. a new delineation default), and say so in the
commit message: the point of these files is that a refactor must reproduce them to 1e-6.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    sys.path.insert(0, str(HERE))
    from cases import golden_runs, long_scores

    with tempfile.TemporaryDirectory() as tmp:
        for name, run in golden_runs(Path(tmp)).items():
            scores = long_scores(run)
            scores.to_csv(HERE / f"{name}.csv", index=False, float_format="%.9g")
            print(f"wrote {HERE / f'{name}.csv'} ({len(scores)} scores)")


if __name__ == "__main__":
    main()
