"""The corporation stock of a region and its flows.

The stock is a vector of cells (municipality x size class x rent class x age label,
`woonsim.region.cells`), occupied or vacant. Its flows:
- **departures**: tenants leave at Poisson times (rate `departure_rate` per occupied
  dwelling per year); after the burn-in a share of the freed dwellings is demolished or
  sold instead of re-let;
- **completions**: new construction per municipality (all tenures), of which the social
  part enters the stock as new vacancies, under the programme's caps (capacity, money);
- **chains**: the old dwelling of a housed doorstromer falls vacant after the notice;
- **lettings**: a let vacancy is occupied again.

Yearly counters (`built`, `built_total`, `demolished`, `sold`, `at_year_start`,
`dwellings_at_year_start`) are (years x municipalities); a municipality's column is a
view that its `Municipality` agent owns.
"""

from __future__ import annotations

import numpy as np

from woonsim.errors import InvariantError
from woonsim.region.cells import N_LAB, N_LOCAL, N_SEG, RENTS
from woonsim.region.scenario import RegionScenario
from woonsim.region.taakstelling import largest_remainder

__all__ = ["Stock", "cell_mix"]


def cell_mix(spec: RegionScenario) -> np.ndarray:
    """Shares of the 45 local cells in the stock: size x rent mix, then age labels on
    small (youth and senior) and medium (senior) dwellings."""
    st = spec.stock
    seg = np.outer(st.size_mix, st.rent_mix).ravel()  # 15 segments
    label = np.zeros((N_SEG, N_LAB))
    for s in range(N_SEG):
        size = s // len(RENTS)
        youth = st.youth_label_share if size == 0 else 0.0
        senior = st.senior_label_share if size in (0, 1) else 0.0
        label[s] = (1 - youth - senior, youth, senior)
    return (seg[:, None] * label).ravel()


class Stock:
    """Occupied and vacant corporation dwellings per cell, all dwellings per municipality,
    the construction programme and the yearly counters."""

    def __init__(
        self,
        spec: RegionScenario,
        corporation: np.ndarray,
        dwellings: np.ndarray,
        codes: list[str],
        toward_30: np.ndarray,
    ):
        self.spec = spec
        self.n_munis = M = len(corporation)
        self.cell_mix = cell_mix(spec)
        occ = [largest_remainder(int(c), self.cell_mix) for c in corporation]
        self.occupied = np.concatenate(occ).astype(np.int64)
        self.vacant = np.zeros_like(self.occupied)
        self.dwellings = np.asarray(dwellings, dtype=np.int64).copy()  # all tenures, evolves
        n_years = int(np.ceil(spec.horizon)) + 1
        self.built = np.zeros((n_years, M), np.int64)
        self.built_total = np.zeros((n_years, M), np.int64)
        self.demolished = np.zeros((n_years, M), np.int64)
        self.sold = np.zeros((n_years, M), np.int64)
        self.at_year_start = np.zeros((n_years, M), np.int64)
        self.dwellings_at_year_start = np.zeros((n_years, M), np.int64)
        self.volume_per_year, self.social_per_year = self._programme(codes, toward_30)

    def _programme(self, codes: list[str], toward_30: np.ndarray):
        """Completions per year per municipality (all tenures) and their social part."""
        c = self.spec.construction
        volume = c.per_1000_dwellings * self.dwellings.astype(float) / 1000
        if c.capacity is not None and volume.sum() > c.capacity:
            volume *= c.capacity / volume.sum()
        share = (
            np.array([c.social_share.get(code, 0.0) for code in codes])
            if isinstance(c.social_share, dict)
            else np.full(self.n_munis, c.social_share)
        )
        social = volume * share
        if c.social_distribution == "toward_30":
            social = social.sum() * toward_30 / toward_30.sum()
        extra = c.extra_social_from_verhuurderheffing
        if extra:
            social = social + extra * volume / volume.sum()
        if c.social_budget is not None and social.sum() > c.social_budget + extra:
            social *= (c.social_budget + extra) / social.sum()
        return np.maximum(volume, social), social

    # --- per municipality -------------------------------------------------------------
    def social_stock(self) -> np.ndarray:
        """Corporation dwellings (occupied + vacant) per municipality."""
        return (self.occupied + self.vacant).reshape(self.n_munis, N_LOCAL).sum(axis=1)

    def year_start(self, yi: int) -> None:
        """Record the stock at the start of year `yi` (checked: never negative)."""
        if (self.occupied < 0).any() or (self.vacant < 0).any():
            raise InvariantError(f"negative occupied or vacant stock at the start of year {yi}")
        self.at_year_start[yi] = self.social_stock()
        self.dwellings_at_year_start[yi] = self.dwellings

    # --- flows ------------------------------------------------------------------------
    def departures(self, t0: float, t1: float, frozen: bool, yi: int, rng: np.random.Generator):
        """Tenants leaving in [t0, t1); returns (times, municipalities, cells) of the
        dwellings that fall vacant (the demolished and sold ones leave the stock)."""
        fl = self.spec.flows
        # no more tenants leave a cell than live in it (binds only at extreme rates)
        n = np.minimum(rng.poisson(fl.departure_rate * self.occupied * (t1 - t0)), self.occupied)
        if n.sum() == 0:
            return None
        cells = np.repeat(np.arange(len(n)), n)
        self.occupied -= n
        arise = t0 + (t1 - t0) * rng.random(len(cells))
        muni = (cells // N_LOCAL).astype(np.int16)
        keep = np.ones(len(cells), dtype=bool)
        if not frozen and fl.departure_rate > 0:
            p_demolish = min(1.0, fl.demolition_rate / fl.departure_rate)
            p_sell = min(1.0 - p_demolish, fl.sale_rate / fl.departure_rate)
            u = rng.random(len(cells))
            demolish, sell = u < p_demolish, (u >= p_demolish) & (u < p_demolish + p_sell)
            np.add.at(self.demolished[yi], muni[demolish], 1)
            np.add.at(self.sold[yi], muni[sell], 1)
            np.subtract.at(self.dwellings, muni[demolish], 1)
            keep = ~(demolish | sell)
        cells, arise, muni = cells[keep], arise[keep], muni[keep]
        self.vacant += np.bincount(cells, minlength=len(self.vacant))
        return arise, muni, cells

    def completions(self, t0: float, t1: float, yi: int, rng: np.random.Generator):
        """New construction completed in [t0, t1); returns (times, municipalities, cells)
        of the new social dwellings (new-builds carry no age label)."""
        dt = t1 - t0
        total = rng.poisson(self.volume_per_year * dt)
        social = np.minimum(
            rng.binomial(
                total,
                np.divide(
                    self.social_per_year,
                    self.volume_per_year,
                    out=np.zeros(self.n_munis),
                    where=self.volume_per_year > 0,
                ),
            ),
            total,
        )
        self.dwellings += total
        self.built_total[yi] += total
        self.built[yi] += social
        if social.sum() == 0:
            return None
        muni = np.repeat(np.arange(self.n_munis), social).astype(np.int16)
        st = self.spec.stock
        seg = rng.choice(N_SEG, len(muni), p=np.outer(st.size_mix, st.rent_mix).ravel())
        cells = muni.astype(np.int64) * N_LOCAL + seg * N_LAB
        self.vacant += np.bincount(cells, minlength=len(self.vacant))
        arise = t0 + dt * rng.random(len(cells))
        return arise, muni, cells

    def free(self, cells: np.ndarray) -> None:
        """Occupied dwellings fall vacant (a chain: the old dwelling of a housed mover)."""
        np.subtract.at(self.occupied, cells, 1)
        self.vacant += np.bincount(cells, minlength=len(self.vacant))

    def let(self, cells: np.ndarray) -> None:
        """Vacant dwellings are let."""
        np.subtract.at(self.vacant, cells, 1)
        np.add.at(self.occupied, cells, 1)
