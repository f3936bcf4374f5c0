//! Online drift: reference profiles fitted from training data ([`reference`]), sliding
//! windows of binned counts fed on the prediction path, and the statistics ([`stats`])
//! computed from them at collection time.

pub mod reference;
pub mod stats;
