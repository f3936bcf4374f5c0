//! Drift statistics between a reference distribution and a window of observations, over the
//! same bins.
