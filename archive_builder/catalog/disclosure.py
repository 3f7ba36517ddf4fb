"""Small-count suppression that subtraction cannot undo.

A breakdown (per month, per modality, ...) splits the offers into cells whose
counts add up to a total that is published (the overall row) or that an
attacker may know. Each cell holds two counts of people: those who accepted
the offer and those who did not (offered minus accepted).

- **Primary suppression**: a cell where either count is below
  :data:`THRESHOLD` publishes neither.
- **Complementary suppression**: with a known total, the withheld cells of a
  breakdown add up to a known sum. One withheld cell alone would be that sum;
  so would several whose sum the donors of the archive (a lower bound of
  each cell's accepted offers, since the donations catalog is public) already
  account for. Further cells, smallest first, are withheld until at least two
  are and, for each count, the withheld cells hold at least THRESHOLD people
  beyond what the donors explain. An attacker's interval for a withheld count
  then spans at least THRESHOLD + 1 values.
- A breakdown that cannot be protected even when every cell is withheld is
  not published at all.

The breakdowns share only their total (each is a margin of the same
unpublished table, and any margins with equal totals fit together), so
protecting each breakdown against its total protects them together.
"""

from __future__ import annotations

from dataclasses import dataclass

THRESHOLD = 5


@dataclass(frozen=True)
class Cell:
    group: str
    accepted: int
    offered: int
    lower_bound: int = 0  # accepted offers the published donors account for

    @property
    def declined(self) -> int:
        """Offered and did not donate (declined, or gave no answer)."""
        return self.offered - self.accepted

    @property
    def small(self) -> bool:
        return self.accepted < THRESHOLD or self.declined < THRESHOLD


def _slack(cells: list[Cell], chosen: set[int]) -> tuple[int, int]:
    """How far the withheld cells' sums exceed what an attacker's bounds pin down."""
    accepted = sum(cells[i].accepted - cells[i].lower_bound for i in chosen)
    declined = sum(cells[i].declined for i in chosen)
    return accepted, declined


def _safe(cells: list[Cell], chosen: set[int], margin: int) -> bool:
    accepted, declined = _slack(cells, chosen)
    return len(chosen) >= 2 and accepted >= margin and declined >= margin


def protect(cells: list[Cell], known_total: bool) -> set[int] | None:
    """Indexes of the cells to withhold; None when the breakdown must not be published."""
    chosen = {i for i, cell in enumerate(cells) if cell.small}
    if not chosen or not known_total:
        return chosen
    candidates = sorted(
        (i for i in range(len(cells)) if i not in chosen),
        key=lambda i: (cells[i].offered, cells[i].group),
    )
    while not _safe(cells, chosen, THRESHOLD) and candidates:
        chosen.add(candidates.pop(0))
    if _safe(cells, chosen, 1):
        return chosen
    return None
