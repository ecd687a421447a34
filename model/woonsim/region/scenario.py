"""Scenario kind `region`: a Dutch woningmarktregio, its policy levers and behaviour.

Every default below is documented in docs/ODD.md (value, unit, source or the label
"assumption"). Rates are per year unless the name says otherwise.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from woonsim.spec import MAX_YEARS, Measure, Spec, bounded

__all__ = ["GROUP_KINDS", "MIX_TOLERANCE", "RegionScenario"]

# Every number has explicit bounds (docs: README "Bounds"); the run's size is bounded by
# its estimate (`woonsim.size`).
Share = Annotated[float, Field(ge=0, le=1, description="a share, in [0, 1]")]
Code = Annotated[str, Field(pattern=r"^GM\d{4}$")]
Mix3 = Annotated[list[Share], Field(min_length=3, max_length=3)]
Mix5 = Annotated[list[Share], Field(min_length=5, max_length=5)]
Weeks = bounded(0, 520, "weeks, at most 10 years")
PosWeeks = bounded(0, 520, "weeks, at most 10 years", open_low=True)
Utility = bounded(-50, 50, "a utility weight, in [-50, 50]")
PER_1000 = 1000.0  # rates per 1,000 households or dwellings: at most one each per year
# shares of a mix must add up to 1 within this (numpy's own check is sqrt(eps), 1.5e-8)
MIX_TOLERANCE = 1e-9

# How a group gets a dwelling.
GROUP_KINDS = ("regular", "urgent", "statushouder", "contingent")


class Stock(Spec):
    """Split of each municipality's corporation stock into allocation segments.

    size: small (1-2 rooms), medium (3), large (4+); rent: cheap (<= kwaliteitskortings-
    grens), <= lage aftoppingsgrens, <= hoge aftoppingsgrens, upper (<= liberalisatie-
    grens), free (above).
    """

    size_mix: Mix3 = [0.30, 0.40, 0.30]  # shares small / medium / large; add up to 1
    # shares of the five rent classes; add up to 1
    rent_mix: Mix5 = [0.10, 0.45, 0.10, 0.253, 0.097]
    youth_label_share: Share = 0.10  # of small dwellings: only for seekers under 23
    senior_label_share: Share = 0.15  # of small and medium dwellings: only for 55+


class Flows(Spec):
    """Exogenous flows of the corporation stock."""

    departure_rate: Annotated[float, Field(ge=0, le=1)] = 0.055  # sitting tenants leaving, /yr
    demolition_rate: Annotated[float, Field(ge=0, le=0.2)] = 0.003  # share of stock per year
    sale_rate: Annotated[float, Field(ge=0, le=0.2)] = 0.002  # share of stock sold per year
    notice_weeks: Weeks = 4.0  # a doorstromer's old dwelling frees this long after letting


class Construction(Spec):
    """Building programme: completions per year per 1,000 dwellings, with a social share."""

    # completions per year per 1,000 dwellings
    per_1000_dwellings: bounded(0, 200, "completions per 1,000 dwellings per year") = 8.0
    # social share of completions: one, or per municipality (CBS code)
    social_share: Share | dict[Code, Share] = 0.30
    # spread social completions as the volume, or toward 30%
    social_distribution: Literal["as_volume", "toward_30"] = "as_volume"
    # randvoorwaarde: max completions per year in the region
    capacity: bounded(0, 1e6, "completions per year") | None = None
    # randvoorwaarde: max social completions per year
    social_budget: bounded(0, 1e6, "social completions per year") | None = None
    # flanking: extra social units per year
    extra_social_from_verhuurderheffing: bounded(0, 1e5, "social units per year") = 0.0


class Household(Spec):
    """Household-size, income and age mix of a group's households."""

    size: Mix3 = [0.45, 0.30, 0.25]  # 1, 2, 3+ persons
    income: Mix3 = [0.55, 0.40, 0.05]  # huurtoeslag, up to the DAEB limit, above it
    age: Mix3 = [0.10, 0.75, 0.15]  # under 23, 23-54, 55+


class GroupSpec(Spec):
    """A seeker group and its route into a dwelling."""

    # the group's name (used in paths: groups[NAME].accept)
    name: Annotated[str, Field(min_length=1, max_length=100)]
    # route: regular (adverts), urgent, statushouder, contingent
    kind: Literal["regular", "urgent", "statushouder", "contingent"] = "regular"
    aandachtsgroep: bool = False  # counts toward the norm for aandachtsgroepen
    # active seekers starting per year
    inflow_per_1000_households: bounded(0, PER_1000, "per 1,000 households per year") = 0.0
    # the group's own channel (campus and youth contracts, employer housing, units that
    # are not self-contained), outside the corporations' self-contained stock: dwellings
    # per year per 1,000 households; the group's inflow beyond it searches the adverts
    own_channel_per_1000_households: bounded(0, PER_1000, "per 1,000 households per year") = 0.0
    household: Household = Household()  # household-size, income and age mix
    # mean of an exponential time until giving up; null: never
    patience_years: bounded(0, 100, "mean patience, years", open_low=True) | None = 5.0
    # mean registration time before searching
    registration_lead_years: bounded(0, 100, "mean years") = 3.0
    leaves_vacancy: Share = 0.0  # P(previous home is a corporation dwelling in the region)
    weekly_activity: Share = 0.3  # P(reacting in a given week)
    accept: Share = 0.5  # P(accepting an offer), when `choice` is off
    # with `choice`: the group's reservation utility (higher: choosier), docs/ODD.md §B3.7
    reservation: Utility = 0.0
    household_formation: bool = False  # inflow grows with kostendelersnorm_extra_households


class Choice(Spec):
    """Random-utility search (docs/ODD.md §B3.7). A dwelling's utility to a household is
    its municipality's attractiveness, `own_municipality` in the household's own
    municipality, `rooms` per size class, `rent` per rent class, `new_build` for a
    first letting and the dwelling's own quality (normal, sd `quality_sd`, the same for
    every household). Households react to the adverts of highest utility + log of the
    chance their shown rank gives, weighted by `strategic` (1: at its worth, 0: ignored),
    + a Gumbel taste shock, and accept an
    offer with the logistic chance of utility - reservation, where the reservation is
    the group's `reservation` + `seniority` x their place in the queue (1: first, 0:
    last) - `decline_per_year` x years searching. A share `sincere_share` of households
    ignores the chance and reacts to the adverts it likes best."""

    own_municipality: Utility = 1.5  # utility of a dwelling in the household's own municipality
    # utility of each municipality's dwellings, by CBS code
    attractiveness: dict[Code, Utility] = {}
    rooms: Utility = 0.3  # utility per size class
    rent: Utility = -0.2  # utility per rent class (negative: cheaper is better)
    new_build: Utility = 0.5  # utility of a first letting of a new dwelling
    # sd of a dwelling's own quality
    quality_sd: bounded(0, 20, "standard deviation of quality") = 1.0
    # weight of the log chance of the shown rank
    strategic: Annotated[float, Field(ge=0, le=1)] = 1.0
    seniority: Utility = 1.0  # raises the reservation of the first in the queue
    # the reservation falls by this per year searching
    decline_per_year: bounded(0, 50, "utility per year searching") = 0.5
    rank_bins: Annotated[int, Field(ge=1, le=20)] = 5  # classes of the rank shown on an advert
    # share of households who react sincerely, to the adverts they like best, ignoring
    # their chance (the others weigh it by `strategic`); Pathak & Sonmez (2008)
    sincere_share: Share = 0.0


class Urgency(Spec):
    """Urgentieverklaring: priority for a search profile during a search period, then one
    binding direct offer; refusing a suitable offer ends it."""

    approval_share: Share = 1.0  # lever: share of applicants who qualify
    # granted only after searching this long without success (Den Haag: 3 months)
    pre_search_weeks: Weeks = 0.0
    search_weeks: PosWeeks = 26.0  # how long the urgency priority holds
    binding_accept: Share = 0.9  # P(accepting the binding offer)
    # where the priority holds: on every advert, or (zoekprofiel) in the own municipality
    profile: Literal["everywhere", "own_municipality"] = "everywhere"


class Statushouders(Spec):
    """Half-yearly national taakstelling (persons), split over municipalities."""

    # the national taakstelling, persons per half-year
    national_per_halfyear: bounded(0, 1e6, "persons per half-year") = 13000.0
    # to convert the task in persons into households
    persons_per_household: bounded(1, 20, "persons") = 1.9
    # after COA links a household, the municipality needs this long to match it to a
    # dwelling (viewing, contract, furnishing) before it can be placed
    matching_weeks: Weeks = 0.0
    # the denominator of each municipality's population share
    national_population: bounded(1e6, 1e9, "persons") = 17942942.0


class Quota(Spec):
    """A norm for aandachtsgroepen: a share of lettings (`basis: lettings`, the
    programme's norm, enforced per calendar year and per municipality, or with `scope:
    region` over the region's lettings as a whole, by designating vacancies as needed)
    or a fixed share of vacancies designated at random (`basis: vacancies`, one way of
    implementing a norm). `mode` says what designation does.

    `start`: the norm holds from the start of the burn-in (`burn_in`: a steady-state
    comparison), or is introduced at the end of the burn-in (`window`: the burn-in runs
    current practice, the reported years are the years after the norm's introduction).
    `applies_to: lagging` (with `start: window`): the norm holds only in the
    municipalities (with `scope: region`, the regions) whose share of lettings to
    aandachtsgroepen in the last burn-in year was below the norm's share."""

    share: Share | dict[Code, Share] = 0.0  # the norm's share: one, or per municipality (CBS code)
    # none, floor (at least), cap (at most), or ring_fenced
    mode: Literal["none", "floor", "cap", "ring_fenced"] = "none"
    # a share of lettings (the norm) or of vacancies designated
    basis: Literal["vacancies", "lettings"] = "vacancies"
    # a lettings norm counted per municipality, or over the region's lettings as a whole
    scope: Literal["municipality", "region"] = "municipality"
    # in force from the burn-in, or introduced at its end
    start: Literal["burn_in", "window"] = "burn_in"
    # every municipality, or only those below the norm (lagging)
    applies_to: Literal["all", "lagging"] = "all"

    @model_validator(mode="after")
    def _region_scope(self) -> Quota:
        if self.applies_to == "lagging":
            if self.start != "window":
                raise ValueError("applies_to: lagging needs start: window")
            if isinstance(self.share, dict):
                raise ValueError("applies_to: lagging needs one share, not a mapping")
        if self.scope == "region":
            if self.basis != "lettings":
                raise ValueError("scope: region needs basis lettings")
            if isinstance(self.share, dict):
                raise ValueError("scope: region needs one share for the region, not a mapping")
        return self


class AllocationSpec(Spec):
    cycle_weeks: Annotated[int, Field(ge=1, le=13)] = 1  # length of an advert cycle
    # adverts a seeker may react to per week
    reactions_per_week: Annotated[int, Field(ge=1, le=5)] = 2
    # preference for adverts in one's own municipality
    own_municipality_weight: bounded(0, 1000, "relative weight", open_low=True) = 3.0
    lottery_share: Share = 0.10  # share of adverts let by lottery
    # order of candidates: registration time, or points (Amsterdam)
    ranking: Literal["registration", "points"] = "registration"
    # share of adverts with priority for the own municipality
    local_binding_share: Annotated[float, Field(ge=0, le=0.5)] = 0.25
    relax_after_weeks: Weeks = 8.0  # unlet that long: size and age-label rules lapse
    # unlet that long: let outside the lists (direct te huur, to a household not on the
    # region's lists), occupied from then on; None keeps it advertised (an ASSUMPTION)
    withdraw_after_weeks: PosWeeks | None = 26.0
    # refusals after which a seeker is blocked
    refusals_before_block: Annotated[int, Field(ge=1, le=100)] = 3
    block_weeks: Weeks = 13.0  # how long a blocked seeker may not react
    quota: Quota = Quota()  # the norm for aandachtsgroepen (a policy lever)
    # the key that splits the statushouder task over municipalities
    task_distribution: Literal["population", "social_stock", "toward_30"] = "population"
    # dwellings per year for contingent groups: per 1,000 corporation dwellings, or a
    # fixed number per municipality (a mapping by CBS code) when given
    contingent_per_1000_social: bounded(0, PER_1000, "dwellings per 1,000 per year") = 2.0
    # dwellings per year for contingent groups, per CBS code
    contingent_dwellings: dict[Code, bounded(0, 1e5, "dwellings per year")] | None = None
    # max direct placements per year
    staff_capacity_per_1000_social: bounded(0, PER_1000, "per 1,000 per year") | None = None
    urgency: Urgency = Urgency()  # the urgency route (urgentieverklaring)


class RegionScenario(Spec):
    """A woningmarktregio: municipalities by CBS code, levers and behaviour."""

    kind: Literal["region"]  # the scenario kind: `region`, the Dutch model
    name: Annotated[str, Field(min_length=1, max_length=200)]  # a label, written into every output
    # CBS codes (GMxxxx) of the region's municipalities: `woonsim municipalities`
    municipalities: Annotated[list[Code], Field(min_length=1, max_length=342)]
    # calendar year of the first reported year
    start_year: Annotated[int, Field(ge=2025, le=2100)] = 2025
    # simulated years before start_year, not reported (docs/ODD.md §B1.2)
    burn_in_years: bounded(0, MAX_YEARS, "years before the reported window") = 5.0
    # reported years from start_year
    years: bounded(0, MAX_YEARS, "reported years", open_low=True) = 20.0
    measure: Measure | None = None  # default: cohort of the first years - 5, tail 5
    stock: Stock = Stock()  # the corporation stock's segments
    flows: Flows = Flows()  # departures, demolition and sales of the stock
    construction: Construction = Construction()  # the building programme
    allocation: AllocationSpec = AllocationSpec()  # the allocation rules and policy levers
    statushouders: Statushouders = Statushouders()  # the statushouder taakstelling
    # extra share of starters' inflow if the norm goes
    kostendelersnorm_extra_households: Annotated[float, Field(ge=0, le=1)] = 0.0
    choice: Choice | None = None  # None: fixed reaction weights and acceptance chances
    # the seeker groups, each with its route
    groups: Annotated[list[GroupSpec], Field(min_length=1, max_length=50)]

    @model_validator(mode="after")
    def _consistent(self) -> RegionScenario:
        for i, c in enumerate(self.municipalities):
            if c in self.municipalities[:i]:
                raise ValueError(f"municipalities[{i}]: {c} listed twice")
        names = [g.name for g in self.groups]
        for i, n in enumerate(names):
            if n in names[:i]:
                raise ValueError(f"groups[{i}].name: duplicate group name {n!r}")
        for field, mix in (
            ("stock.size_mix", self.stock.size_mix),
            ("stock.rent_mix", self.stock.rent_mix),
        ):
            if abs(sum(mix) - 1) > MIX_TOLERANCE:
                raise ValueError(
                    f"{field}: shares must add up to 1 (they add up to {sum(mix):.12g})"
                )
        st = self.stock
        if st.youth_label_share + st.senior_label_share > 1 + MIX_TOLERANCE:
            raise ValueError(
                "stock.senior_label_share: youth_label_share + senior_label_share must be at "
                f"most 1 (they add up to {st.youth_label_share + st.senior_label_share:.12g})"
            )
        cycle = self.allocation.cycle_weeks / 52
        if self.years < cycle - 1e-12:
            raise ValueError(
                f"years: the reported window needs at least one advert cycle ({cycle:.4g} "
                f"years with cycle_weeks {self.allocation.cycle_weeks}), not {self.years:g}"
            )
        b = self.burn_in_years
        if self.allocation.quota.start == "window" and (b < 1 or abs(b - round(b)) > 1e-9):
            raise ValueError(
                "burn_in_years: allocation.quota.start window needs a whole number of "
                f"burn-in years (at least 1), not {b:g}"
            )
        for i, g in enumerate(self.groups):
            for key in ("size", "income", "age"):
                mix = getattr(g.household, key)
                if abs(sum(mix) - 1) > MIX_TOLERANCE:
                    raise ValueError(
                        f"groups[{i}].household.{key}: shares must add up to 1 "
                        f"(they add up to {sum(mix):.12g})"
                    )
            if g.kind != "regular" and not g.aandachtsgroep:
                raise ValueError(
                    f"groups[{i}].aandachtsgroep: a {g.kind} group is an "
                    "aandachtsgroep; set aandachtsgroep: true"
                )
        if not any(g.kind == "regular" for g in self.groups):
            raise ValueError("groups: needs at least one regular group")
        for field, value in (
            ("allocation.quota.share", self.allocation.quota.share),
            ("construction.social_share", self.construction.social_share),
            ("allocation.contingent_dwellings", self.allocation.contingent_dwellings or {}),
        ):
            if isinstance(value, dict):
                for code in value:
                    if code not in self.municipalities:
                        raise ValueError(f"{field}.{code}: not one of the municipalities")
        if self.choice is not None:
            for code in self.choice.attractiveness:
                if code not in self.municipalities:
                    raise ValueError(f"choice.attractiveness.{code}: not one of the municipalities")
        m = self.measure
        if m is not None and m.end > self.burn_in_years + self.years + 1e-9:
            raise ValueError("measure: warmup + window + tail exceeds burn_in_years + years")
        return self

    @property
    def horizon(self) -> float:
        """Simulated years, burn-in included."""
        return self.burn_in_years + self.years

    @property
    def cohort_measure(self) -> Measure:
        if self.measure is not None:
            return self.measure
        tail = min(5.0, self.years / 4)
        return Measure(warmup=self.burn_in_years, window=self.years - tail, tail=tail)

    @property
    def group_names(self) -> list[str]:
        return [g.name for g in self.groups]

    @property
    def time_unit(self) -> str:
        return "year"

    @property
    def rule_label(self) -> str:
        q = self.allocation.quota
        return f"aanbodmodel + direct placement; aandachtsgroep quota {q.mode}"
