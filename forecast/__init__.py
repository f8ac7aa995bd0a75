"""Occupancy forecasts per site and zone, and the back-test that measures them against simple baselines.

Modules: ``data`` (CSV loading and validation), ``timeseries`` (values between readings, weekday × slot
medians), ``features``, ``baselines``, ``model`` (quantile gradient boosting), ``backtest`` (rolling
origins with daily refits), ``report`` (table and JSON), ``command`` (``parklotse forecast``).
"""
