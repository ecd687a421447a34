"""Mesa for real: the regional model's clock counts years, cycles, half-years and years are
scheduled events, municipalities own their stock, and model-level data are collected for a
dashboard to watch. Stepping in pieces gives exactly the run in one go."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from woonsim import RegionalMarket, load_scenario

TINY = Path(__file__).parent / "data" / "tiny_region.yaml"


@pytest.fixture(scope="module")
def scenario():
    return load_scenario(TINY)  # 1 year of burn-in + 2 reported years, weekly cycles


def test_run_until_counts_years(scenario):
    m = RegionalMarket(scenario, 3)
    m.run_until(2.0)
    assert m.time == 2.0
    assert m.cycles_done == round(2.0 / m.dt) == 104
    m.step()  # one Mesa step is one year
    assert m.time == 3.0 and m.cycles_done == m.n_cycles and not m.running


def test_stepping_in_pieces_equals_one_run(scenario):
    whole = RegionalMarket(scenario, 5).run()
    m = RegionalMarket(scenario, 5)
    m.run_until(0.3)
    m.advance(7)
    m.step()
    pieces = m.run()
    np.testing.assert_array_equal(whole.base.exit, pieces.base.exit)
    np.testing.assert_array_equal(whole.vac["let_to"], pieces.vac["let_to"])


def test_year_events_reset_budgets_and_record_the_stock(scenario):
    m = RegionalMarket(scenario, 4)
    m.run_until(1.5)
    # the stock at the start of year 1 was recorded by the year event at t = 1
    assert m.stock.at_year_start[1].sum() > 0
    assert m.stock.at_year_start[2].sum() == 0  # year 2 has not begun
    m.run_until(2.0 + m.dt / 2)
    assert m.stock.at_year_start[2].sum() > 0


def test_municipalities_own_views_of_the_stock(scenario):
    m = RegionalMarket(scenario, 2)
    m.run_until(1.0)
    for mu in m.munis:
        assert np.shares_memory(mu.occupied, m.stock.occupied)
        assert mu.social_stock == m.stock.social_stock()[mu.index]
    assert [a.code for a in m.agents] == m.codes  # the municipalities are Mesa agents


def test_data_collector_records_each_half_year(scenario):
    m = RegionalMarket(scenario, 6)
    m.run()
    df = m.datacollector.get_model_vars_dataframe()
    assert len(df) == 6  # 3 years, one row at the end of every half-year
    np.testing.assert_allclose(df["year"], 2024 + 0.5 * np.arange(1, 7), atol=m.dt)
    assert (np.diff(df["lettings"]) >= 0).all()  # cumulative lettings never fall
    assert df["lettings"].iloc[-1] == int((m.vacancies.columns()["let_to"] >= 0).sum())


def test_each_market_refuses_the_other_kind_with_a_clear_error(scenario):
    from woonsim import HousingMarket, ScenarioError, market_for
    from woonsim_experiments.validation import case_scenario

    with pytest.raises(ScenarioError, match=r"woonsim\.market_for"):
        HousingMarket(scenario, 1)
    with pytest.raises(ScenarioError, match=r"woonsim\.market_for"):
        RegionalMarket(case_scenario("v1_fifo"), 1)
    assert isinstance(market_for(scenario, 1), RegionalMarket)
    assert isinstance(market_for(case_scenario("v1_fifo"), 1), HousingMarket)
