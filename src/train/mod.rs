//! Training: data sets (and, later, losses, the trainer and evaluation).

pub mod data;
