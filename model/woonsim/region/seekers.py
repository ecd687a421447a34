"""The seekers of a regional run: a columnar set with vectorised behaviour.

Every household of every group is one row, in activation order (the moment it starts
searching, or for a statushouder the moment it is linked to a municipality). The columns
are numpy arrays rather than one Mesa agent per household: a regional run has hundreds of
thousands of seekers and the national run millions, and each behaviour (react to adverts,
accept or refuse an offer, give up) is applied to many rows at once (docs/ODD.md §B1.3).

Behaviour:
- **react**: an active seeker reacts in a cycle with probability
  1 - (1 - weekly_activity)^cycle_weeks, unless blocked after refusals
  (`reacting`), to up to K eligible adverts, with weight `own_municipality_weight` for
  adverts in their own municipality (`choose_adverts`);
- **accept / refuse**: an offer is accepted with the group's probability (on adverts in
  the offer walk, `kernels.offer_walk`; binding offers: `accepts_binding`); a refusal
  counts, may end urgency and blocks after `refusals_before_block` refusals in a row
  (`kernels.offer_walk`; binding: `refuse_binding`);
- **give up**: a seeker leaves the list at their patience deadline (`gone`).
"""

from __future__ import annotations

import numpy as np

from woonsim.engine.draws import UniformBuffer, poisson_times
from woonsim.region.cells import ELIGIBLE, ELIGIBLE_RELAXED, KINDS, N_LOCAL, N_TYPES
from woonsim.region.kernels import (
    ONE_BELOW,
    advert_weights,
    choice_weights,
    count_new_active,
    draw_reactions,
    react_filter,
    reaction_pairs,
)
from woonsim.region.scenario import RegionScenario
from woonsim.region.taakstelling import period_of
from woonsim.streams import stream

__all__ = ["COLUMNS", "Seekers", "draw_columns"]

# household attributes, fixed at arrival
COLUMNS = (
    "group",  # index into the scenario's groups
    "kind",  # KINDS: regular, urgent, statushouder, contingent
    "aandacht",  # the group is an aandachtsgroep
    "muni",  # home municipality (index)
    "arrival",  # starts searching (active) / is linked (statushouder)
    "registration",  # registered on the platform
    "deadline",  # leaves the list (patience)
    "htype",  # household type: size * 9 + income * 3 + age
    "leaves",  # frees a corporation dwelling in the region when housed
    "urgency_start",  # urgency granted (after the pre-search; inf: not urgent)
    "urgency_expiry",  # end of the urgent search period (inf: not urgent)
)


def draw_columns(
    spec: RegionScenario, seed: np.random.SeedSequence, households, population, weights
) -> dict[str, np.ndarray]:
    """Every seeker of the run, drawn up front from the named streams: arrival times per
    group (Poisson; statushouders per half-year of the taakstelling), home municipality
    (by `weights(key)`), household type, patience and registration lead."""
    H = spec.horizon
    n_munis = len(households)
    households, population = float(np.sum(households)), float(np.sum(population))
    cols: dict[str, list[np.ndarray]] = {k: [] for k in COLUMNS}
    for gi, g in enumerate(spec.groups):
        rng = stream(seed, f"arrivals/{g.name}")
        attr = stream(seed, f"attributes/{g.name}")
        if g.kind == "statushouder":
            st = spec.statushouders
            per_half = (
                st.national_per_halfyear * population / st.national_population
            ) / st.persons_per_household
            t = np.concatenate(
                [h / 2 + poisson_times(rng, 2 * per_half, 0.5) for h in range(int(np.ceil(2 * H)))]
            )
            t = t[t < H]
        else:
            rate = (
                max(g.inflow_per_1000_households - g.own_channel_per_1000_households, 0.0)
                * households
                / 1000
            )
            if g.household_formation:
                rate *= 1 + spec.kostendelersnorm_extra_households
            if g.kind == "urgent":
                rate *= spec.allocation.urgency.approval_share
            t = poisson_times(rng, rate, H)
        n = len(t)
        key = "households" if g.kind in ("regular", "urgent") else spec.allocation.task_distribution
        w = weights(key)
        muni = attr.choice(n_munis, n, p=w / w.sum()).astype(np.int16)
        hh = attr.choice(3, n, p=g.household.size)
        inc = attr.choice(3, n, p=g.household.income)
        age = attr.choice(3, n, p=g.household.age)
        patience = (
            np.full(n, np.inf)
            if g.patience_years is None
            else stream(seed, f"patience/{g.name}").exponential(g.patience_years, n)
        )
        lead = (
            attr.exponential(g.registration_lead_years, n)
            if g.registration_lead_years > 0
            else np.zeros(n)
        )
        u = spec.allocation.urgency
        granted = t + u.pre_search_weeks / 52 if g.kind == "urgent" else np.full(n, np.inf)
        expiry = granted + u.search_weeks / 52 if g.kind == "urgent" else np.full(n, np.inf)
        cols["group"].append(np.full(n, gi, np.int16))
        cols["kind"].append(np.full(n, KINDS[g.kind], np.int8))
        cols["aandacht"].append(np.full(n, g.aandachtsgroep))
        cols["muni"].append(muni)
        cols["arrival"].append(t)
        cols["registration"].append(t - lead)
        cols["deadline"].append(t + patience)
        cols["htype"].append((hh * 9 + inc * 3 + age).astype(np.int16))
        cols["leaves"].append(attr.random(n) < g.leaves_vacancy)
        cols["urgency_start"].append(granted)
        cols["urgency_expiry"].append(expiry)
    order = np.argsort(np.concatenate(cols["arrival"]), kind="stable")
    return {k: np.concatenate(v)[order] for k, v in cols.items()}


# the columns fixed once drawn (read-only arrays)
STATIC = (
    "group", "kind", "aandacht", "muni", "arrival", "registration", "deadline", "htype",
    "leaves", "urgency_start", "urgency_expiry", "activity", "p_react", "accept",
    "reservation", "sincere",
)  # fmt: skip


class Seekers:
    """Every seeker of a regional run (rows in activation order) and their search state."""

    def __init__(self, columns: dict[str, np.ndarray], spec: RegionScenario, seed):
        self.group = columns["group"]
        self.kind = columns["kind"]
        self.aandacht = columns["aandacht"]
        self.muni = columns["muni"]
        self.arrival = columns["arrival"]
        self.registration = columns["registration"]
        self.deadline = columns["deadline"]
        self.htype = columns["htype"]
        self.leaves = columns["leaves"]
        self.urgency_start = columns["urgency_start"]
        self.urgency_expiry = columns["urgency_expiry"]
        n = len(self.arrival)
        # search state
        self.urgency_lost = np.zeros(n, dtype=bool)
        self.housed = np.zeros(n, dtype=bool)
        self.dwelling = np.full(n, -1, dtype=np.int64)  # vacancy let to the seeker
        self.route = np.full(n, -1, dtype=np.int8)  # index into ROUTES
        self.refusals = np.zeros(n, dtype=np.int32)
        self.streak = np.zeros(n, dtype=np.int32)  # refusals in a row (blocking)
        self.blocked_until = np.full(n, -np.inf)
        self.last_refusal = np.full(n, -np.inf)
        g = spec.groups
        al = spec.allocation
        self.activity = np.array([x.weekly_activity for x in g])[self.group]
        # chance of reacting in a cycle of `cycle_weeks` weeks, computed once
        self.p_react = 1 - (1 - self.activity) ** al.cycle_weeks
        self.accept = np.array([x.accept for x in g])[self.group]
        self.choice = spec.choice
        self.reservation = np.array([x.reservation for x in g])[self.group]
        # each household's rank bin this cycle (choice), and its place in the queue;
        # sincere households react as if their chance were 1 (choice.sincere_share)
        self.rank_bin = np.zeros(n, np.int64)
        share = spec.choice.sincere_share if spec.choice is not None else 0.0
        self.sincere = stream(seed, "sincere").random(n) < share if share > 0 else np.zeros(n, bool)
        self.queue_place = np.zeros(n)
        self.binding_accept = al.urgency.binding_accept
        self.refusals_before_block = al.refusals_before_block
        self.block_years = al.block_weeks / 52
        self.own_municipality_weight = al.own_municipality_weight
        # actief woningzoekende: reacted at least once in the calendar year
        self.last_active_year = np.full(n, -1, dtype=np.int64)
        self.active_per_year = np.zeros(int(np.ceil(spec.horizon)) + 1, dtype=np.int64)
        # scalar look-ups in the channels' Python loops are faster on a sequence; read-only
        # (tuples: a fork of the model shares them, `RegionalMarket.fork`)
        self.arrival_list = tuple(self.arrival.tolist())
        self.deadline_list = tuple(self.deadline.tolist())
        self.offer_draws = UniformBuffer(stream(seed, "offers"))
        self._work = np.empty(0)
        for name in STATIC:  # fixed once drawn: a write is a bug, and a fork shares them
            getattr(self, name).flags.writeable = False

    def __len__(self) -> int:
        return len(self.arrival)

    def read_only(self) -> tuple:
        """The columns fixed once drawn and the look-ups built once, which a fork of the
        model shares."""
        return (*(getattr(self, name) for name in STATIC), self.arrival_list, self.deadline_list)

    def scratch(self) -> tuple:
        """The scratch space, which a fork of the model starts afresh."""
        return (self._work,)

    # --- state of one household (the channels' scalar look-ups) ------------------------
    def gone(self, s: int, t: float) -> bool:
        """Housed, or gave up (patience ran out) by t."""
        return self.housed[s] or self.deadline_list[s] <= t

    def is_housed(self, s: int) -> bool:
        return bool(self.housed[s])

    def mark_housed(self, s: int) -> None:
        self.housed[s] = True

    def eligible(self, s: int, cell: int) -> bool:
        """The household may rent a dwelling of this cell (strict rules)."""
        return bool(ELIGIBLE[self.htype[s], cell % N_LOCAL])

    def urgency_pending(self, s: int, t: float) -> bool:
        """An urgent household past its search period, still waiting for its binding offer."""
        return (
            not self.housed[s]
            and self.deadline_list[s] > t
            and not self.urgency_lost[s]
            and self.urgency_expiry[s] <= t
        )

    # --- behaviour -------------------------------------------------------------------
    def accepts_binding(self) -> bool:
        """Whether a binding urgency offer is accepted (one draw from the offers stream)."""
        return self.offer_draws() < self.binding_accept

    def refuse_binding(self, s: int) -> None:
        """Household s refuses its binding offer: its urgency ends."""
        self.urgency_lost[s] = True
        self.refusals[s] += 1

    def reacting(self, pool: np.ndarray, t: float, rng: np.random.Generator) -> np.ndarray:
        """Of the searching households `pool`, those who react this cycle: not blocked,
        and active this cycle with probability 1 - (1 - weekly_activity)^cycle_weeks."""
        return react_filter(pool, self.blocked_until, self.p_react, rng.random(len(pool)), t)

    def count_active(self, rows: np.ndarray, t: float) -> None:
        """Count each household that reacts once per calendar year (the monitors'
        definition of an active seeker)."""
        y = period_of(t, 1)
        self.active_per_year[y] += count_new_active(rows, self.last_active_year, y)

    def choose_adverts(
        self,
        rows: np.ndarray,
        advert_local: np.ndarray,
        advert_muni: np.ndarray,
        advert_only_aandacht: np.ndarray,
        advert_relaxed: np.ndarray,
        K: int,
        n_munis: int,
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each reacting household reacts to up to K distinct adverts it may rent, drawn
        without replacement with weight `own_municipality_weight` for its own
        municipality. Returns (household rows, advert positions), one pair per reaction."""
        self._reserve(min(N_TYPES * 2 * n_munis, len(rows)) * max(len(advert_local), 1))
        w, left, flat, row_of, k_of, counts = advert_weights(
            self.htype, self.aandacht, self.muni, rows, advert_local, advert_muni,
            advert_only_aandacht, advert_relaxed, ELIGIBLE, ELIGIBLE_RELAXED,
            float(self.own_municipality_weight), n_munis, N_TYPES, K, self._work,
        )  # fmt: skip
        return self._draw(w, left, flat, row_of, k_of, counts, rows, K, len(advert_local), rng)

    def rank_bins(self, rows: np.ndarray, t: float) -> None:
        """The rank the platform shows, in `choice.rank_bins` bins: of the households
        reacting this cycle, the share registered earlier (bin b holds the shares
        [b/B, (b+1)/B)); an urgent household within its search period is first in line
        (bin B). Sets `rank_bin`, the bin whose chance the household weighs (bin B, a
        chance of 1, also for sincere households), and `queue_place` (1 - the bin's
        middle share; 1 for the urgent) of `rows`."""
        B = self.choice.rank_bins
        reg = self.registration[rows]
        cuts = np.quantile(reg, np.arange(1, B) / B) if len(rows) else np.zeros(B - 1)
        b = np.searchsorted(cuts, reg, side="right")
        urgent = (
            (self.kind[rows] == KINDS["urgent"])
            & (self.urgency_start[rows] <= t)
            & (self.urgency_expiry[rows] > t)
            & ~self.urgency_lost[rows]
        )
        self.rank_bin[rows] = np.where(urgent | self.sincere[rows], B, b)
        self.queue_place[rows] = np.where(urgent, 1.0, 1 - (b + 0.5) / B)

    def choose_adverts_by_utility(
        self,
        rows: np.ndarray,
        advert_local: np.ndarray,
        advert_muni: np.ndarray,
        advert_only_aandacht: np.ndarray,
        advert_relaxed: np.ndarray,
        advert_utility: np.ndarray,
        advert_lottery: np.ndarray,
        accept_rate: float,
        K: int,
        n_munis: int,
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Random-utility reactions (`kernels.choice_weights`): each reacting household
        takes the K eligible adverts of highest utility + log chance + Gumbel shock.
        Returns (household rows, advert positions), one pair per reaction."""
        c = self.choice
        keys = N_TYPES * 2 * n_munis * (c.rank_bins + 1)
        self._reserve(min(keys, len(rows)) * max(len(advert_local), 1))
        w, left, flat, row_of, k_of, counts = choice_weights(
            self.htype, self.aandacht, self.muni, self.rank_bin, rows, advert_local,
            advert_muni, advert_only_aandacht, advert_relaxed, advert_utility,
            advert_lottery, ELIGIBLE, ELIGIBLE_RELAXED, float(c.own_municipality), n_munis,
            N_TYPES, c.rank_bins, K, float(accept_rate), float(c.strategic), self._work,
        )  # fmt: skip
        return self._draw(w, left, flat, row_of, k_of, counts, rows, K, len(advert_local), rng)

    def acceptance(self, rows: np.ndarray, utility: np.ndarray, t: float) -> np.ndarray:
        """The chance that each household of `rows` accepts an offer of the dwelling of
        the given utility (choice): logistic(utility - reservation), the reservation
        being the group's, plus `seniority` x the place in the queue, minus
        `decline_per_year` x years searching."""
        c = self.choice
        r = (
            self.reservation[rows]
            + c.seniority * self.queue_place[rows]
            - c.decline_per_year * (t - self.arrival[rows])
        )
        return 1.0 / (1.0 + np.exp(-(utility - r)))

    def _reserve(self, size: int) -> None:
        """Scratch space for the weights of `size` (key, advert) pairs, reused from cycle
        to cycle."""
        if len(self._work) < 3 * size:
            self._work = np.empty(3 * size)

    def _draw(self, w, left, flat, row_of, k_of, counts, rows, K, A, rng):
        """Draw each household's reactions from its row of the weights (the uniforms of
        round j, one per household still drawing in it)."""
        blocks = []
        for c in counts.tolist():
            if c == 0:
                break
            blocks.append(rng.random(c))
        uniforms = np.concatenate(blocks) if blocks else np.zeros(0)
        offsets = np.zeros(K + 1, dtype=np.int64)
        offsets[1 : len(blocks) + 1] = np.cumsum([len(b) for b in blocks])
        offsets[len(blocks) + 1 :] = offsets[len(blocks)]
        chosen = draw_reactions(w, left, flat, row_of, k_of, uniforms, offsets, K, A, ONE_BELOW)
        return reaction_pairs(chosen, rows)

    # --- counts ----------------------------------------------------------------------
    def count_waiting(self, t: float) -> int:
        """Households on a list at t (arrived, not housed, not gone)."""
        arrived = self.arrival <= t
        return int((arrived & ~self.housed & (self.deadline > t)).sum())
