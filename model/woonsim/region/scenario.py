"""Scenario kind `region`: a Dutch woningmarktregio, its policy levers and behaviour.

Every default below is documented in docs/ODD.md (value, unit, source or the label
"assumption"). Rates are per year unless the name says otherwise.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from woonsim.spec import Measure, Spec

__all__ = ["GROUP_KINDS", "RegionScenario"]

Share = Annotated[float, Field(ge=0, le=1)]
NonNeg = Annotated[float, Field(ge=0)]
Pos = Annotated[float, Field(gt=0)]
Code = Annotated[str, Field(pattern=r"^GM\d{4}$")]
Mix3 = Annotated[list[NonNeg], Field(min_length=3, max_length=3)]
Mix5 = Annotated[list[NonNeg], Field(min_length=5, max_length=5)]

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
    notice_weeks: NonNeg = 4.0  # a doorstromer's old dwelling frees this long after letting


class Construction(Spec):
    """Building programme: completions per year per 1,000 dwellings, with a social share."""

    per_1000_dwellings: NonNeg = 8.0  # completions per year per 1,000 dwellings
    # social share of completions: one, or per municipality (CBS code)
    social_share: Share | dict[Code, Share] = 0.30
    # spread social completions as the volume, or toward 30%
    social_distribution: Literal["as_volume", "toward_30"] = "as_volume"
    capacity: NonNeg | None = None  # randvoorwaarde: max completions per year in the region
    social_budget: NonNeg | None = None  # randvoorwaarde: max social completions per year
    extra_social_from_verhuurderheffing: NonNeg = 0.0  # flanking: extra social units per year


class Household(Spec):
    """Household-size, income and age mix of a group's households."""

    size: Mix3 = [0.45, 0.30, 0.25]  # 1, 2, 3+ persons
    income: Mix3 = [0.55, 0.40, 0.05]  # huurtoeslag, up to the DAEB limit, above it
    age: Mix3 = [0.10, 0.75, 0.15]  # under 23, 23-54, 55+


class GroupSpec(Spec):
    """A seeker group and its route into a dwelling."""

    # the group's name (used in paths: groups[NAME].accept)
    name: Annotated[str, Field(min_length=1)]
    # route: regular (adverts), urgent, statushouder, contingent
    kind: Literal["regular", "urgent", "statushouder", "contingent"] = "regular"
    aandachtsgroep: bool = False  # counts toward the norm for aandachtsgroepen
    inflow_per_1000_households: NonNeg = 0.0  # active seekers starting per year
    # the group's own channel (campus and youth contracts, employer housing, units that
    # are not self-contained), outside the corporations' self-contained stock: dwellings
    # per year per 1,000 households; the group's inflow beyond it searches the adverts
    own_channel_per_1000_households: NonNeg = 0.0
    household: Household = Household()  # household-size, income and age mix
    patience_years: Pos | None = 5.0  # mean of an exponential time until giving up; null: never
    registration_lead_years: NonNeg = 3.0  # mean registration time before searching
    leaves_vacancy: Share = 0.0  # P(previous home is a corporation dwelling in the region)
    weekly_activity: Share = 0.3  # P(reacting in a given week)
    accept: Share = 0.5  # P(accepting an offer), when `choice` is off
    # with `choice`: the group's reservation utility (higher: choosier), docs/ODD.md §B3.7
    reservation: float = 0.0
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

    own_municipality: float = 1.5  # utility of a dwelling in the household's own municipality
    attractiveness: dict[Code, float] = {}  # utility of each municipality's dwellings, by CBS code
    rooms: float = 0.3  # utility per size class
    rent: float = -0.2  # utility per rent class (negative: cheaper is better)
    new_build: float = 0.5  # utility of a first letting of a new dwelling
    quality_sd: NonNeg = 1.0  # sd of a dwelling's own quality
    # weight of the log chance of the shown rank
    strategic: Annotated[float, Field(ge=0, le=1)] = 1.0
    seniority: float = 1.0  # raises the reservation of the first in the queue
    decline_per_year: NonNeg = 0.5  # the reservation falls by this per year searching
    rank_bins: Annotated[int, Field(ge=1, le=20)] = 5  # classes of the rank shown on an advert
    # share of households who react sincerely, to the adverts they like best, ignoring
    # their chance (the others weigh it by `strategic`); Pathak & Sonmez (2008)
    sincere_share: Share = 0.0


class Urgency(Spec):
    """Urgentieverklaring: priority for a search profile during a search period, then one
    binding direct offer; refusing a suitable offer ends it."""

    approval_share: Share = 1.0  # lever: share of applicants who qualify
    # granted only after searching this long without success (Den Haag: 3 months)
    pre_search_weeks: NonNeg = 0.0
    search_weeks: Pos = 26.0  # how long the urgency priority holds
    binding_accept: Share = 0.9  # P(accepting the binding offer)
    # where the priority holds: on every advert, or (zoekprofiel) in the own municipality
    profile: Literal["everywhere", "own_municipality"] = "everywhere"


class Statushouders(Spec):
    """Half-yearly national taakstelling (persons), split over municipalities."""

    national_per_halfyear: NonNeg = 13000.0  # the national taakstelling, persons per half-year
    persons_per_household: Pos = 1.9  # to convert the task in persons into households
    # after COA links a household, the municipality needs this long to match it to a
    # dwelling (viewing, contract, furnishing) before it can be placed
    matching_weeks: NonNeg = 0.0
    national_population: Pos = 17942942.0  # the denominator of each municipality's population share


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
    own_municipality_weight: Pos = 3.0  # preference for adverts in one's own municipality
    lottery_share: Share = 0.10  # share of adverts let by lottery
    # order of candidates: registration time, or points (Amsterdam)
    ranking: Literal["registration", "points"] = "registration"
    # share of adverts with priority for the own municipality
    local_binding_share: Annotated[float, Field(ge=0, le=0.5)] = 0.25
    relax_after_weeks: NonNeg = 8.0  # unlet that long: size and age-label rules lapse
    # unlet that long: let outside the lists (direct te huur, to a household not on the
    # region's lists), occupied from then on; None keeps it advertised (an ASSUMPTION)
    withdraw_after_weeks: Pos | None = 26.0
    # refusals after which a seeker is blocked
    refusals_before_block: Annotated[int, Field(ge=1)] = 3
    block_weeks: NonNeg = 13.0  # how long a blocked seeker may not react
    quota: Quota = Quota()  # the norm for aandachtsgroepen (a policy lever)
    # the key that splits the statushouder task over municipalities
    task_distribution: Literal["population", "social_stock", "toward_30"] = "population"
    # dwellings per year for contingent groups: per 1,000 corporation dwellings, or a
    # fixed number per municipality (a mapping by CBS code) when given
    contingent_per_1000_social: NonNeg = 2.0
    # dwellings per year for contingent groups, per CBS code
    contingent_dwellings: dict[Code, NonNeg] | None = None
    staff_capacity_per_1000_social: NonNeg | None = None  # max direct placements per year
    urgency: Urgency = Urgency()  # the urgency route (urgentieverklaring)


class RegionScenario(Spec):
    """A woningmarktregio: municipalities by CBS code, levers and behaviour."""

    kind: Literal["region"]  # the scenario kind: `region`, the Dutch model
    name: Annotated[str, Field(min_length=1)]  # a label, written into every output
    # CBS codes (GMxxxx) of the region's municipalities: `woonsim municipalities`
    municipalities: Annotated[list[Code], Field(min_length=1)]
    # calendar year of the first reported year
    start_year: Annotated[int, Field(ge=2025, le=2100)] = 2025
    # simulated years before start_year, not reported (docs/ODD.md §B1.2)
    burn_in_years: NonNeg = 5.0
    years: Pos = 20.0  # reported years from start_year
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
    groups: Annotated[list[GroupSpec], Field(min_length=1)]

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
            if abs(sum(mix) - 1) > 1e-6:
                raise ValueError(f"{field}: shares must add up to 1 (they add up to {sum(mix):g})")
        b = self.burn_in_years
        if self.allocation.quota.start == "window" and (b < 1 or abs(b - round(b)) > 1e-9):
            raise ValueError(
                "burn_in_years: allocation.quota.start window needs a whole number of "
                f"burn-in years (at least 1), not {b:g}"
            )
        for i, g in enumerate(self.groups):
            for key in ("size", "income", "age"):
                mix = getattr(g.household, key)
                if abs(sum(mix) - 1) > 1e-6:
                    raise ValueError(
                        f"groups[{i}].household.{key}: shares must add up to 1 "
                        f"(they add up to {sum(mix):g})"
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
