//! (identify: under construction)
