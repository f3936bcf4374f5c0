//! Reference profiles: what a feature looked like in training data.
